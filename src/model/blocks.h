// model/blocks: the decoder's stateless building blocks, written as the math they compute,
// matching Hugging Face's Llama / Qwen2 modules operation for operation (so fp32 logits agree
// to ~1e-6): RMSNorm in fp32, SwiGLU MLP, rotary embeddings (default and llama3 scaling).
#pragma once
#include <ATen/core/Tensor.h>

#include "io/config.h"

namespace hyb {

// y = w * (x / sqrt(mean(x^2) + eps)), the normalisation computed in fp32, cast back before w.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps);

// y = x W^T (+ b); b may be undefined.
at::Tensor proj(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

// Rotary embedding tables for positions `pos` [B,T] -> cos, sin [B,T,head_dim] (fp32).
struct Rope {
  // [head_dim/2] fp32, llama3 scaling applied; moved to the positions' device on first use (and
  // kept there: no host-to-device copy per step, which CUDA graph capture would also forbid).
  mutable at::Tensor inv_freq;
  static Rope make(const RopeConfig& cfg, int64_t head_dim);
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& pos) const;
};

// x [B,H,T,d] rotated by cos/sin [B,T,d]: x*cos + rotate_half(x)*sin, in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace hyb
