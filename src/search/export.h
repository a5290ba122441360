// search/export: writes a hybrid model directory, the output of the method, which every command
// loads like any model: the base config.json plus `layer_types` ("full_attention" /
// "linear_attention") and `linear_attention` (the module settings); the base safetensors minus
// the replaced layers' attention weights, plus the distilled modules of those layers
// (model.layers.{l}.linear_attn.*, in their distilled dtype so the hybrid computes exactly what
// the search scored); the tokenizer files copied; the Python modeling code for transformers
// (io/hf_code). config.json names the model_type "hybridize" (io/config's to_json), so that only
// code that knows the hybrid loads it. With HybridFormat::kFla the directory is instead
// flash-linear-attention's own model format (io/fla_format): fla's config.json and parameter names, no
// modeling code (fla's classes run it), refused where fla cannot express the hybrid.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hyb {

enum class HybridFormat { kHybridize, kFla };

// `distilled` is the linear.safetensors written by `hybridize distill`. The directory is built in a
// fresh temporary sibling of OUT and renamed into place: never left half-written. OUT must be new
// or an empty directory, and neither the model directory nor one above it (hyb::Error naming --out
// otherwise: an export never deletes what it did not create). `replace_existing`: a resumed search
// re-exporting its own M_best / M_opt may replace them.
void export_hybrid(const std::filesystem::path& model_dir, const std::filesystem::path& distilled,
                   const std::vector<int64_t>& layers, const std::filesystem::path& out_dir,
                   bool replace_existing = false, HybridFormat format = HybridFormat::kHybridize);

// export_hybrid with the layers as a --layers list ("3,7,11", "0-2,5" or "all": io/layers), read
// against the model's layer count after the --out checks (so a bad --out is refused before the
// model is read); an empty list is refused.
void export_hybrid_layers(const std::filesystem::path& model_dir, const std::filesystem::path& distilled,
                          const std::string& layers, const std::filesystem::path& out_dir,
                          HybridFormat format = HybridFormat::kHybridize);

// Copies the tokenizer files a model directory has (tokenizer.json, tokenizer_config.json, ...)
// into `to`, as every written model directory carries them.
void copy_tokenizer_files(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace hyb
