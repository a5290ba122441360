// CPU threading. LibTorch on these machines defaults to 1 thread unless told otherwise, and
// OpenMP threads on tiny matrices spend more time waking each other than computing (stories260K
// decodes ~10x faster on 1 thread than on 2 busy cores), so the default depends on the width.
#pragma once
#include <cstdint>

namespace hyb {

// requested > 0: use exactly that many; else all cores for hidden_size >= 256, one below.
// Returns the number set.
int configure_threads(int requested, int64_t hidden_size);

}  // namespace hyb
