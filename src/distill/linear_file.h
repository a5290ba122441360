// distill/linear_file: linear.safetensors, the product of `hybridize distill`: every distilled
// layer's module under the names a hybrid model directory uses,
//   model.layers.{l}.linear_attn.<local name from the module's parameters()>
// with metadata {"linear_attention": LinearSettings JSON, "layers": "0,1,..."} (+ "format": "pt").
// Greedy search and export read it back with load_linear_layers.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace hyb {

class CausalLM;
class TokenMixer;
struct LinearSettings;

// Writes the modules (layer -> module), parameters as they are (fp32 masters), atomically.
void save_linear_layers(const std::filesystem::path& path, const LinearSettings& settings,
                        const std::map<int64_t, TokenMixer*>& modules);

// The layers stored in a linear.safetensors (from its metadata).
std::vector<int64_t> linear_file_layers(const std::filesystem::path& path);

// Builds the stored module of each layer in `layers` (empty: every stored layer), loads its
// tensors (checked by name and shape) in the model's dtype and device, and swaps it into the model
// with set_mixer. Throws hyb::Error naming the file for a missing layer or tensor, a shape that
// does not fit, settings that do not match the model, or tensors left over for a loaded layer.
void load_linear_layers(CausalLM& model, const std::filesystem::path& path, const std::vector<int64_t>& layers = {});

}  // namespace hyb
