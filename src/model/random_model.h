// A model directory with random weights for a config.json (`hybridize random-model`): shape-true
// benchmarks of models that cannot be downloaded here.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>

namespace hyb {

// Writes the model (model.safetensors, config.json, the modeling code when the config has linear
// layers) into `out`, which must be new or empty (the rule of every output directory: an existing
// model there is refused, never overwritten), under its lock, staged and renamed into place.
// Returns the number of parameters.
int64_t write_random_model(const std::filesystem::path& config, const std::filesystem::path& out, uint64_t seed,
                           at::ScalarType dtype);

}  // namespace hyb
