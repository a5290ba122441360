// model/attention: causal grouped-query softmax attention (Llama / Qwen2) as a token mixer,
// and its preallocated KV cache.
#pragma once
#include <vector>

#include "io/layers.h"
#include "model/blocks.h"
#include "model/mixer.h"

namespace hyb {

// K and V for every position of every row, preallocated to max_len: [B, Hkv, max_len, d].
// Rows may hold different lengths (prompts of different sizes decoded together).
class KVCache : public MixerCache {
 public:
  at::Tensor k, v;
  std::vector<int64_t> lengths;  // tokens stored per row

  int64_t bytes() const override;
  void copy_row(int64_t dst_row, const MixerCache& src, int64_t src_row) override;
  void reset() override;
  bool keeps_positions() const override { return true; }
  bool rewind(int64_t row, int64_t length) override;
  bool can_gather(const MixerCache& src) const override;
  void gather_rows(const MixerCache& src, const std::vector<int64_t>& rows) override;
  void fill_random(int64_t length, at::Generator& gen) override;
};

class Attention : public TokenMixer {
 public:
  Attention(AttentionWeights w, const Rope& rope) : w_(std::move(w)), rope_(rope) {}

  at::Tensor forward(const at::Tensor& x, const Positions& pos, MixerCache* cache) override;
  int64_t cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const override;
  std::unique_ptr<MixerCache> make_cache(int64_t batch, int64_t max_len, at::ScalarType dtype,
                                         at::Device device) const override;
  std::string kind() const override { return kFullAttention; }
  void named_parameters(const std::string& prefix, ParamList& out) override;

  const AttentionWeights& weights() const { return w_; }

 private:
  AttentionWeights w_;
  Rope rope_;
};

}  // namespace hyb
