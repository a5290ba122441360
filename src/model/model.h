// model/model: the decoder-only causal LM of the Llama / Qwen2 family, whose every layer's
// token mixer is full attention or a linear module (per config.layer_types), and the cache
// that holds one MixerCache per layer (KV cache beside recurrent state, as llama.cpp's hybrid
// memory).
//
//   h_0 = E[ids]
//   h_l = h_{l-1} + mixer_l(RMSNorm(h_{l-1}));  h_l += MLP_l(RMSNorm(h_l))
//   logits = RMSNorm(h_L) W_head^T        (W_head = E when embeddings are tied)
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "io/config.h"
#include "model/blocks.h"
#include "model/mixer.h"

namespace hyb {

struct Mlp {
  at::Tensor gate, up, down;  // [I,D], [I,D], [D,I]
  at::Tensor forward(const at::Tensor& x) const;  // down(silu(gate x) * up x)
};

struct DecoderLayer {
  at::Tensor input_norm, post_norm;  // RMSNorm weights [D]
  std::unique_ptr<TokenMixer> mixer;
  Mlp mlp;
};

class ModelCache {
 public:
  std::vector<std::unique_ptr<MixerCache>> layers;
  std::vector<int64_t> lengths;  // tokens consumed per row
  int64_t max_len = 0;
  int64_t bytes() const;
  int64_t kv_bytes() const;     // caches that keep every position (attention layers)
  int64_t state_bytes() const;  // fixed-size states (linear layers)
  void copy_row(int64_t dst_row, const ModelCache& src, int64_t src_row);
};

struct LoadOptions {
  at::Device device = at::kCPU;
  // Compute dtype; Undefined = fp32 on CPU, the checkpoint's dtype on CUDA.
  at::ScalarType dtype = at::ScalarType::Undefined;
};

// Called with (layer, mixer input, mixer output) during a forward pass (distillation capture).
using MixerHook = std::function<void(int64_t layer, const at::Tensor& in, const at::Tensor& out)>;

class CausalLM : public Module {
 public:
  // Loads DIR/config.json and its safetensors; validates every tensor name, shape and dtype
  // against the config (missing or unexpected tensors are errors naming the file).
  static std::unique_ptr<CausalLM> load(const std::filesystem::path& dir, const LoadOptions& opt = {});
  // Random weights for a config (shape-true benchmarks): N(0, 0.02), norms 1; the linear layers
  // of a hybrid config (layer_types) are freshly initialised modules of its linear_attention.
  // On CUDA the weights are drawn there (seeded by the global CUDA generator).
  static std::unique_ptr<CausalLM> random(const ModelConfig& cfg, uint64_t seed,
                                          at::ScalarType dtype = at::kFloat, at::Device device = at::kCPU);

  const ModelConfig& config() const { return cfg_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  DecoderLayer& layer(int64_t l) { return layers_.at(l); }
  at::ScalarType dtype() const { return embed_.scalar_type(); }
  at::Device device() const { return embed_.device(); }

  // Swaps layer l's token mixer (e.g. for a distilled linear module); updates layer_types and
  // returns the mixer it replaced (so a search can swap it back).
  std::unique_ptr<TokenMixer> set_mixer(int64_t l, std::unique_ptr<TokenMixer> mixer,
                                        const nlohmann::json& linear_settings = {});
  // The attention weights of layer l (to initialise a linear module from them).
  const AttentionWeights& attention_weights(int64_t l) const;

  // Pieces of the forward pass, so that callers can start and stop at any layer.
  at::Tensor embed(const at::Tensor& ids) const;  // [B,T] -> [B,T,D]
  at::Tensor layer_forward(int64_t l, const at::Tensor& h, const Positions& pos, ModelCache* cache,
                           const MixerHook& hook = nullptr);
  at::Tensor run_layers(at::Tensor h, int64_t from, int64_t to, const Positions& pos, ModelCache* cache,
                        const MixerHook& hook = nullptr);
  at::Tensor logits(const at::Tensor& h) const;  // final norm + head, fp32 [B,T,V]

  // Full forward: logits [B,T,V] (fp32). With a cache, continues each row from its length.
  at::Tensor forward(const at::Tensor& ids, ModelCache* cache = nullptr, const MixerHook& hook = nullptr);
  // Prefill: feeds ids [B,T] into `cache` (continuing each row from its length) in chunks of
  // `chunk` tokens (0: default_prefill_chunk) and returns the logits of the last position only,
  // fp32 [B,V]: the head never runs on the other T-1 positions (at 64K tokens their logits
  // alone would be tens of GiB).
  at::Tensor prefill(const at::Tensor& ids, ModelCache& cache, int64_t chunk = 0);
  // The chunk a prefill of `tokens` tokens uses when none is asked for: all of them on CUDA,
  // where attention's fused kernel keeps memory linear in the length and a prompt that starts at
  // position 0 takes one causal call with no mask (the flash path); 2048 on the CPU, where
  // attention materialises [chunk, context] scores.
  static int64_t default_prefill_chunk(at::Device device, int64_t tokens);
  // Positions for `T` new tokens of each row of `cache` (or 0..T-1 without a cache).
  Positions positions(int64_t B, int64_t T, const ModelCache* cache) const;

  int64_t cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const;
  std::unique_ptr<ModelCache> make_cache(int64_t batch, int64_t max_len) const;

  void named_parameters(const std::string& prefix, ParamList& out) override;
  int64_t num_parameters();
  // Writes a model directory: config.json + model.safetensors (+ tokenizer files by the caller).
  void save(const std::filesystem::path& dir);

 private:
  CausalLM() = default;
  ModelConfig cfg_;
  Rope rope_;
  at::Tensor embed_, final_norm_, lm_head_;  // lm_head_ aliases embed_ when tied
  std::vector<DecoderLayer> layers_;
};

// Token ids [n,T] (int64, on `device`) from sequences of equal length (packed sequences).
at::Tensor ids_tensor(const std::vector<std::vector<int32_t>>& seqs, at::Device device);

}  // namespace hyb
