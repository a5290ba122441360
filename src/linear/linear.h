// linear: linear-attention token mixers that replace a layer's softmax attention:
//   GLA  (Gated Linear Attention, fla GatedLinearAttention), "gla"
//   GDN  (Gated DeltaNet, fla GatedDeltaNet),               "gdn"
//   Jet  (JetBlock, Jet-Nemotron: GDN with a dynamic conv on v), "jet"
// Each module has three forms sharing its parameters: the naive token-by-token recurrence
// (reference, ops/*_naive), the chunked parallel form (training / prefill) and the one-token
// recurrent step on a carried state (decoding). See ../shared/docs/linear-attention-reference.md.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "model/mixer.h"

namespace hyb {

struct ModelConfig;

struct LinearSettings {
  std::string kind;  // "gla" | "gdn" | "jet"
  int64_t hidden_size = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  bool qkv_bias = false;       // keep the parent's q/k/v biases (Qwen2)
  int64_t conv_size = 4;       // short / dynamic convolution width (gdn, jet)
  int64_t gate_low_rank = 16;  // GLA forget-gate rank
  double gate_logit_normalizer = 16.0;
  double norm_eps = 1e-6;
  int64_t chunk_size = 64;

  nlohmann::json to_json() const;
  static LinearSettings from_json(const nlohmann::json& j, const std::string& where);
  // The configuration derived from the parent attention of `cfg` ("the same hidden size").
  // Throws hyb::Error for an unknown kind or dimensions that do not fit.
  static LinearSettings for_model(const std::string& kind, const ModelConfig& cfg);
};

// A freshly initialised module (random projections, fresh gates) on CPU in fp32.
std::unique_ptr<TokenMixer> make_linear_mixer(const LinearSettings& s, uint64_t seed);
// Initialised from the parent attention: W_q, W_k, W_v, W_o copied (biases kept), convolutions
// start as identity (last tap 1), gates fresh (seeded). Before training the module is the
// parent attention with softmax swapped for the module's recurrence.
std::unique_ptr<TokenMixer> make_linear_mixer_from_attention(const LinearSettings& s,
                                                             const AttentionWeights& parent,
                                                             uint64_t seed);

}  // namespace hyb
