// search/export: writes a hybrid model directory, the output of the method, which every command
// loads like any model: the base config.json plus `layer_types` ("full_attention" /
// "linear_attention") and `linear_attention` (the module settings); the base safetensors minus
// the replaced layers' attention weights, plus the distilled modules of those layers
// (model.layers.{l}.linear_attn.*, in their distilled dtype so the hybrid computes exactly what
// the search scored); the tokenizer files copied.
#pragma once
#include <filesystem>
#include <vector>

namespace hyb {

// `distilled` is the linear.safetensors written by `hybridize distill`. The directory is built
// under OUT.tmp and renamed into place: never left half-written.
void export_hybrid(const std::filesystem::path& model_dir, const std::filesystem::path& distilled,
                   const std::vector<int64_t>& layers, const std::filesystem::path& out_dir);

}  // namespace hyb
