// util/files: file-system helpers that the standard library would otherwise provide.
#pragma once
#include <filesystem>

namespace hyb {

// Removes `path` and everything below it (nothing if it does not exist); throws hyb::Error naming
// the entry that could not be removed. Used instead of std::filesystem::remove_all: the pip
// LibTorch 2.x exports its own copy of that function, which the dynamic linker can bind in place
// of libstdc++'s, and that copy crashed (a call through a null pointer) in our test binary on the
// GPU machine.
void remove_tree(const std::filesystem::path& path);

}  // namespace hyb
