// io/fla_format: flash-linear-attention's own model format, the target of `export --to fla`. A hybrid
// becomes fla's GLAForCausalLM (model_type "gla") or GatedDeltaNetForCausalLM ("gated_deltanet"),
// whose `attn` setting keeps the full-attention layers as fla's Attention; fla's model classes and
// kernels then run it (`import fla` registers them with transformers' Auto classes). The one owner of
// that format: its config.json keys and its parameter names.
//
// What fla's classes cannot express is refused, naming the setting (fla_config):
//   - JetBlock: fla has no such layer;
//   - q/k/v biases in the linear modules (every Qwen2 parent: fla's GLA and GatedDeltaNet have none);
//   - GLA gates other than fla's fixed gate_logit_normalizer 16 and gate_low_rank_dim 16;
//   - kept attention layers with RoPE scaling (llama3) or head_dim != hidden_size / heads (fla's
//     Attention has neither), and MLP biases (fla's GatedMLP has none).
// One setting fla expresses only approximately: its single norm_eps serves the block norms, the
// final norm and the linear modules' output norm. It is set to the parent's rms_norm_eps (the block
// norms must match); modules distilled with another output-norm eps (ours default to 1e-6, Llama
// parents use 1e-5) then run with the parent's, a small change of the logits: FlaConfig::warnings
// says so, and `distill --norm-eps` avoids it.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace hyb {

struct ModelConfig;

struct FlaConfig {
  nlohmann::json config;              // fla's config.json
  std::vector<std::string> warnings;  // settings fla runs only approximately, one line each
};

// fla's config for `hybrid` (a config whose linear layers are set: layer_types and linear). Throws
// hyb::Error naming `where` and the setting for a hybrid fla cannot express.
FlaConfig fla_config(const ModelConfig& hybrid, const std::string& where);

// The name fla's model gives our parameter `name` ("model.layers.3.linear_attn.o_norm.weight" ->
// "model.layers.3.attn.g_norm_swish_gate.weight"); `kind` is the hybrid's linear kind.
std::string fla_parameter_name(const std::string& name, const std::string& kind);

}  // namespace hyb
