// linear: linear-attention token mixers that replace a layer's softmax attention:
//   GLA  (Gated Linear Attention, fla GatedLinearAttention), "gla"
//   GDN  (Gated DeltaNet, fla GatedDeltaNet),               "gdn"
//   Jet  (JetBlock, Jet-Nemotron: GDN with a dynamic conv on v), "jet"
// Each module has three forms sharing its parameters: the naive token-by-token recurrence
// (reference, ops/*_naive), the chunked parallel form (training / prefill) and the one-token
// recurrent step on a carried state (decoding). See ../shared/docs/linear-attention-reference.md.
// Files: kinds.* (the registry of kinds: name, factory, own checks), settings.cpp (LinearSettings,
// the factories), linear_file.* (linear.safetensors, the
// distilled modules' file: its one writer and validated reader), blocks.* (parts the modules share, the
// cache), gla.cpp and gated_delta.cpp (the modules: parameters, gates, norms, cache handling),
// ops/ (the recurrences as tensor functions: *_naive.cpp references beside the chunked + step
// forms in gla.cpp / gated_delta.cpp, and the causal convolutions in conv.cpp), ops/dispatch.*
// (which implementation runs a chunked form) and ops/cuda/ (the fused CUDA kernels of the chunked
// forms, forward and backward, on raw pointers, with their LibTorch autograd glue).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/mixer.h"

namespace hyb {

struct ModelConfig;

struct LinearSettings {
  std::string kind;  // a kind of the registry (linear/kinds): "gla" | "gdn" | "jet"
  int64_t hidden_size = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  bool qkv_bias = false;       // keep the parent's q/k/v biases (Qwen2)
  int64_t conv_size = 4;       // short / dynamic convolution width (gdn, jet)
  int64_t gate_low_rank = 16;  // GLA forget-gate rank
  double gate_logit_normalizer = 16.0;
  double norm_eps = 1e-6;
  int64_t chunk_size = 64;

  // Throws hyb::Error (naming `where`) for an unknown kind or sizes that do not fit.
  void validate(const std::string& where) const;
  int64_t num_groups() const { return num_heads / num_kv_heads; }  // query heads per kv head

  nlohmann::json to_json() const;
  static LinearSettings from_json(const nlohmann::json& j, const std::string& where);
  // The configuration derived from the parent attention of `cfg` ("the same hidden size").
  // Throws hyb::Error for an unknown kind or dimensions that do not fit.
  static LinearSettings for_model(const std::string& kind, const ModelConfig& cfg);
};

// Which computation a linear module's forward uses. All three share the parameters.
//   kAuto:    chunked without a cache; with a cache, chunked for prefill (T > 1), step for T == 1.
//   kNaive:   the token-by-token reference recurrence (ops/*_naive.cpp); fp64 end to end for
//             fp64 inputs and weights; slow, for tests and benchmarks.
//   kChunked: the chunked parallel form (training, prefill).
//   kStep:    the one-token recurrent step (decoding), applied to each token in turn.
enum class LinearForm { kAuto, kNaive, kChunked, kStep };

// The state a linear module carries between forward calls, for every row of the batch:
//   state: the recurrent state S, [B, Hs, dk, dv] (key index first); fp32 (fp64 for fp64 caches).
//          Hs = num_kv_heads for GLA (all query heads of a group share k, v and the gate, so
//          their states are equal: one per group is kept), num_heads for GDN and JetBlock.
//   conv:  the last W-1 inputs of each causal convolution, [B, W-1, C], in the activation
//          dtype, oldest first (GDN: q, k, v; JetBlock: v; GLA: none).
// A new (or reset) cache is all zeros, which is the state at position 0.
class LinearCache : public MixerCache {
 public:
  at::Tensor state;
  std::vector<at::Tensor> conv;

  int64_t bytes() const override;
  void copy_row(int64_t dst_row, const MixerCache& src, int64_t src_row) override;
  void reset() override;
};

// The common face of GLA, GDN and JetBlock.
class LinearMixer : public TokenMixer {
 public:
  explicit LinearMixer(LinearSettings s) : s_(std::move(s)) {}
  const LinearSettings& settings() const { return s_; }
  std::string kind() const override { return s_.kind; }

  // Positions are not used (no RoPE in the linear modules).
  at::Tensor forward(const at::Tensor& x, const Positions& pos, MixerCache* cache) override {
    return forward(x, cache, LinearForm::kAuto);
  }
  // x [B,T,D] -> [B,T,D]. `cache` (a LinearCache from make_cache, or nullptr for a zero start)
  // is consumed and advanced. kStep with T > 1 runs one decoding step per token.
  at::Tensor forward(const at::Tensor& x, MixerCache* cache, LinearForm form);

  int64_t cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const override;
  std::unique_ptr<MixerCache> make_cache(int64_t batch, int64_t max_len, at::ScalarType dtype,
                                         at::Device device) const override;

  // Shapes of the cache's tensors for one row of the batch (see LinearCache).
  struct CacheLayout {
    int64_t state_heads = 0, dk = 0, dv = 0;
    std::vector<int64_t> conv_channels;
    int64_t conv_rows = 0;  // W-1
  };
  virtual CacheLayout cache_layout() const = 0;

 protected:
  // One forward in a resolved form (never kAuto; kStep only with T == 1). cache may be null.
  virtual at::Tensor mix(const at::Tensor& x, LinearCache* cache, LinearForm form) = 0;

  LinearSettings s_;
};

// A freshly initialised module (random projections, fresh gates) on CPU in fp32.
std::unique_ptr<TokenMixer> make_linear_mixer(const LinearSettings& s, uint64_t seed);
// Initialised from the parent attention: W_q, W_k, W_v, W_o copied (biases kept; k/v rows
// repeated per group where the module is not GQA-native), convolutions start as identity (last
// tap 1), gates fresh (seeded). Before training the module is the parent attention with softmax
// swapped for the module's recurrence. Parameters are fp32 on the device of parent.wq.
std::unique_ptr<TokenMixer> make_linear_mixer_from_attention(const LinearSettings& s,
                                                             const AttentionWeights& parent,
                                                             uint64_t seed);

}  // namespace hyb
