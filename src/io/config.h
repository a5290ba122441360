// io/config: config.json of a Llama / Qwen2 model directory, in both styles real files use
// (pre-v5: top-level rope_theta / rope_scaling / torch_dtype; transformers 5: rope_parameters /
// dtype), plus the hybrid extension: `layer_types` (io/layers: "full_attention" / "linear_attention") and
// `linear_attention` (the linear module's settings) written by `hybridize export`.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/layers.h"

namespace hyb {

// The names an exported hybrid's config.json carries instead of its parent's (which it records
// as parent_model_type): libraries that do not know them refuse to load it.
inline constexpr const char* kHybridModelType = "hybridize";
inline constexpr const char* kHybridArchitecture = "HybridizeForCausalLM";

struct RopeConfig {
  std::string type = "default";  // "default" or "llama3"
  double theta = 10000.0;
  // llama3 scaling
  double factor = 1.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;  // the decoder: "llama" | "qwen2" (a hybrid's parent_model_type)
  int64_t hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0, vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (always on for qwen2)
  bool mlp_bias = false;
  std::string dtype = "float32";  // "float32" | "bfloat16" | "float16"
  std::vector<std::string> layer_types;  // per layer: "full_attention" | "linear_attention"
  nlohmann::json linear;                 // linear module settings (hybrid models), else null
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  nlohmann::json raw;  // the file as read, for writing a derived config back

  static ModelConfig load(const std::filesystem::path& dir_or_file);
  // `where` names the source in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  // The json to write for this config: raw with layer_types updated; a hybrid (any linear layer)
  // with its own model_type and architecture, parent_model_type, auto_map and linear_attention.
  nlohmann::json to_json() const;

  bool is_linear(int64_t layer) const { return layer_types.at(layer) == kLinearAttention; }
  int64_t num_linear_layers() const;
};

}  // namespace hyb
