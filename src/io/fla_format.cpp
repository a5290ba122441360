#include "io/fla_format.h"

#include <fmt/format.h>

#include <utility>

#include "io/config.h"
#include "io/layers.h"
#include "linear/linear.h"
#include "util/error.h"

namespace hyb {

namespace {

// fla's GatedLinearAttention fixes these (its config has no key for them).
constexpr double kFlaGateLogitNormalizer = 16.0;
constexpr int64_t kFlaGateLowRank = 16;

// Replaces the first `from` in `s` by `to` (no-op when absent).
std::string replace_first(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

FlaConfig fla_config(const ModelConfig& hybrid, const std::string& where) {
  if (hybrid.num_linear_layers() == 0) fail(where, "has no linear layer: fla's format is for hybrids");
  const LinearSettings s = LinearSettings::from_json(hybrid.linear, where);
  auto refuse = [&](const std::string& what) { fail(where, "fla cannot express {}", what); };
  if (s.kind != "gla" && s.kind != "gdn")
    refuse(fmt::format("'{}' modules (fla has GatedLinearAttention and GatedDeltaNet, no JetBlock)", s.kind));
  if (s.qkv_bias)
    refuse(fmt::format("q/k/v biases in the linear modules (kept from the {} parent; fla's {} has none)",
                       hybrid.model_type, s.kind == "gla" ? "GatedLinearAttention" : "GatedDeltaNet"));
  if (s.kind == "gla" && (s.gate_logit_normalizer != kFlaGateLogitNormalizer || s.gate_low_rank != kFlaGateLowRank))
    refuse(fmt::format("a GLA gate with gate_logit_normalizer {} and gate_low_rank {} (fla fixes 16 and 16)",
                       s.gate_logit_normalizer, s.gate_low_rank));
  if (hybrid.mlp_bias) refuse("MLP biases (fla's GatedMLP has none)");

  std::vector<int64_t> attention_layers;
  for (int64_t l = 0; l < hybrid.num_layers; ++l)
    if (!hybrid.is_linear(l)) attention_layers.push_back(l);
  nlohmann::json attn = nullptr;
  if (!attention_layers.empty()) {
    if (hybrid.rope.type != "default")
      refuse(fmt::format("the kept attention layers' '{}' RoPE scaling (fla's Attention has plain RoPE)", hybrid.rope.type));
    if (hybrid.head_dim * hybrid.num_heads != hybrid.hidden_size)
      refuse(fmt::format("attention with head_dim {} != hidden_size {} / {} heads", hybrid.head_dim, hybrid.hidden_size,
                         hybrid.num_heads));
    attn = {{"layers", attention_layers},        {"num_heads", hybrid.num_heads},
            {"num_kv_heads", hybrid.num_kv_heads}, {"qkv_bias", hybrid.attention_bias},
            {"window_size", nullptr},              {"rope_theta", hybrid.rope.theta}};
  }

  FlaConfig out;
  nlohmann::json& c = out.config;
  c = {{"hidden_size", hybrid.hidden_size},
       {"num_hidden_layers", hybrid.num_layers},
       {"vocab_size", hybrid.vocab_size},
       {"intermediate_size", hybrid.intermediate_size},
       {"hidden_act", "swish"},  // SwiGLU MLP; for GLA also the fused norm-and-gate (fla's name for SiLU)
       {"max_position_embeddings", hybrid.max_position_embeddings},
       {"norm_eps", hybrid.rms_norm_eps},
       {"tie_word_embeddings", hybrid.tie_word_embeddings},
       {"attn", attn},
       {"attn_mode", "chunk"},
       {"num_heads", s.num_heads},
       {"use_cache", true},
       {"fuse_norm", true},
       {"dtype", hybrid.dtype},
       {"bos_token_id", hybrid.bos_token_id ? nlohmann::json(*hybrid.bos_token_id) : nlohmann::json(nullptr)},
       {"pad_token_id", hybrid.raw.value("pad_token_id", nlohmann::json(nullptr))}};
  c["eos_token_id"] = hybrid.eos_token_ids.size() == 1 ? nlohmann::json(hybrid.eos_token_ids[0])
                      : hybrid.eos_token_ids.empty()   ? nlohmann::json(nullptr)
                                                       : nlohmann::json(hybrid.eos_token_ids);
  const double expand = static_cast<double>(s.num_heads * s.head_dim) / static_cast<double>(hybrid.hidden_size);
  if (s.kind == "gla") {
    // q: H heads of d; k, v and the gate: Hk heads (fla repeats them per group, as we do).
    c.update({{"model_type", "gla"},
              {"architectures", {"GLAForCausalLM"}},
              {"expand_k", expand},
              {"expand_v", expand},
              {"num_kv_heads", s.num_kv_heads},
              {"feature_map", nullptr},
              {"use_short_conv", false},
              {"use_output_gate", true},
              {"clamp_min", nullptr},
              {"elementwise_affine", true},
              {"use_gk", true},
              {"use_gv", false}});
  } else {
    c.update({{"model_type", "gated_deltanet"},
              {"architectures", {"GatedDeltaNetForCausalLM"}},
              {"head_dim", s.head_dim},
              {"num_v_heads", nullptr},
              {"expand_v", 1.0},
              {"use_gate", true},
              {"use_short_conv", true},
              {"conv_size", s.conv_size},
              {"allow_neg_eigval", false},
              {"output_gate_activation", "swish"}});
  }
  if (s.norm_eps != hybrid.rms_norm_eps)
    out.warnings.push_back(fmt::format(
        "fla applies one norm_eps ({}, the parent's rms_norm_eps) to the linear modules' output norm too, which "
        "were distilled with {}: fla's logits differ slightly from hybridize's (distill with --norm-eps {} for an "
        "exact export)",
        hybrid.rms_norm_eps, s.norm_eps, hybrid.rms_norm_eps));
  return out;
}

std::string fla_parameter_name(const std::string& name, const std::string& kind) {
  // Decoder parts: the same modules under fla's names.
  static const std::pair<const char*, const char*> kDecoder[] = {
      {"model.embed_tokens.", "model.embeddings."}, {".input_layernorm.", ".attn_norm."},
      {".post_attention_layernorm.", ".mlp_norm."}, {".self_attn.", ".attn."}};
  for (const auto& [ours, theirs] : kDecoder)
    if (name.find(ours) != std::string::npos) return replace_first(name, ours, theirs);
  if (name.find(".linear_attn.") == std::string::npos) return name;  // mlp, norm, lm_head: same names
  std::string n = replace_first(name, ".linear_attn.", ".attn.");
  if (kind == "gla") return replace_first(n, ".o_norm.", ".g_norm_swish_gate.");  // fla's fused norm-and-gate
  for (const char* conv : {"q", "k", "v"})  // GatedDeltaNet's ShortConvolution modules
    n = replace_first(n, fmt::format(".attn.{}_conv.", conv), fmt::format(".attn.{}_conv1d.", conv));
  return n;
}

}  // namespace hyb
