// model/mixer: the per-layer token-mixer slot. Each decoder layer mixes tokens with either full
// attention (model/attention) or a linear-attention module (linear/: GLA, Gated DeltaNet,
// JetBlock). The layer type is decided once, from config.layer_types, never by scattered ifs.
//
// Caching: a mixer makes its own MixerCache (a KV cache for attention; recurrent state plus
// convolution caches for linear modules). forward() with a cache consumes and advances it, so
// prefill-then-decode equals one full forward. Sizes are known before allocation. Sequence
// operations (rewind a row, gather rows) are on the cache interface, so that no caller needs to
// know which kind of cache a layer has.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/module.h"

namespace hyb {

class MixerCache {
 public:
  virtual ~MixerCache() = default;
  virtual int64_t bytes() const = 0;  // bytes held by this cache's tensors
  // Copy row `src_row` of `src` (same type, any batch) into row `dst_row` of this cache.
  // Used to prefill sequences of different lengths one by one, then decode them together.
  virtual void copy_row(int64_t dst_row, const MixerCache& src, int64_t src_row) = 0;
  virtual void reset() = 0;  // back to the empty state (lengths 0, state 0)

  // Sequence operations, as llama.cpp's memory interface has them. A cache that keeps every
  // position (a KV cache) can go back to any length and gather rows with one index per tensor;
  // a recurrent state cannot, and the defaults say so: callers fall back (copy_row) or refuse,
  // and never need to know the concrete cache.
  virtual bool keeps_positions() const { return false; }  // grows with the context (KV), or a fixed state
  // Row `row` forgets its positions from `length` on (nothing if it holds fewer). Returns false,
  // doing nothing, where the cache cannot go back.
  virtual bool rewind(int64_t /*row*/, int64_t /*length*/) { return false; }
  // Whether gather_rows can take rows of `src`.
  virtual bool can_gather(const MixerCache& /*src*/) const { return false; }
  // Row r of this cache becomes row rows[r] of `src`, for every r (as many positions as both
  // hold), in one gather per tensor. Only where can_gather(src).
  virtual void gather_rows(const MixerCache& /*src*/, const std::vector<int64_t>& /*rows*/) {
    TORCH_CHECK(false, "gather_rows: this cache cannot gather rows (check can_gather)");
  }
  // For timing decoding steps: the cache as after a prefill of `length` tokens of random content
  // (a KV cache: N(0,1) keys and values from `gen`, every row `length` long). A recurrent state is
  // left as it is: its values do not change the work of a step.
  virtual void fill_random(int64_t /*length*/, at::Generator& /*gen*/) {}
};

// Where the tokens of a forward call sit in their sequences.
struct Positions {
  at::Tensor pos;     // [B,T] int64 absolute positions (RoPE)
  int64_t start = 0;  // pos[:,0] when all rows start at the same position, else -1
  // Graph-friendly decoding (T = 1, every shape fixed for the whole generation, see
  // model/decode_engine): when defined, attention writes K/V at `pos` by device-side indexing
  // and attends over the whole preallocated cache under this additive mask [B,1,1,max_len]
  // (0 where key j <= pos, -inf after), never reading host-side lengths.
  at::Tensor static_mask;
};

class TokenMixer : public Module {
 public:
  // x: [B,T,D] normed hidden state entering the mixer. Returns [B,T,D] (after the output
  // projection). cache == nullptr: the sequence starts at position 0 and nothing is kept.
  virtual at::Tensor forward(const at::Tensor& x, const Positions& pos, MixerCache* cache) = 0;
  // Bytes a cache for (batch, max_len) would take, without allocating it.
  virtual int64_t cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const = 0;
  virtual std::unique_ptr<MixerCache> make_cache(int64_t batch, int64_t max_len,
                                                 at::ScalarType dtype, at::Device device) const = 0;
  virtual std::string kind() const = 0;  // "full_attention", "gla", "gdn", "jet"
};

// Weights of the parent attention layer that a linear module is initialised from
// (Hugging Face layout: W_q [H*d, D], W_k/W_v [Hkv*d, D], W_o [D, H*d]; biases may be undefined).
struct AttentionWeights {
  int64_t hidden_size = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  at::Tensor wq, wk, wv, wo, bq, bk, bv;
};

}  // namespace hyb
