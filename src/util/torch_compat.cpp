#include "util/torch_compat.h"

#include <limits>

namespace hyb::compat {

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& mask, double scale, bool is_causal) {
  const int64_t rep = q.size(1) / k.size(1);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
  // Grouped heads read in place (enable_gqa, LibTorch >= 2.5). Only without a mask: with one, the
  // fused kernels do not take grouped heads and LibTorch would fall back to its math kernel, which
  // materialises the scores (transformers' SDPA path draws the same line).
  if (q.is_cuda() && !mask.defined())
    return at::scaled_dot_product_attention(q, k, v, c10::nullopt, 0.0, is_causal, scale,
                                            /*enable_gqa=*/rep > 1);
#endif
  // K and V expanded to the query heads (HF repeat_kv order: query head h reads kv head h / rep).
  const at::Tensor kk = rep > 1 ? k.repeat_interleave(rep, 1) : k;
  const at::Tensor vv = rep > 1 ? v.repeat_interleave(rep, 1) : v;
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    return at::scaled_dot_product_attention(
        q, kk, vv, mask.defined() ? c10::optional<at::Tensor>(mask.to(q.scalar_type())) : c10::nullopt, 0.0,
        is_causal, scale);
  }
#endif
  at::Tensor m = mask;
  if (is_causal) {
    const int64_t T = q.size(-2);
    m = at::full({T, T}, -std::numeric_limits<float>::infinity(), q.options().dtype(at::kFloat)).triu(1);
  }
  // softmax(q k^T * scale + mask) v, accumulated in fp32 for low-precision inputs.
  auto qf = q.to(at::kFloat), kf = kk.to(at::kFloat), vf = vv.to(at::kFloat);
  auto scores = at::matmul(qf, kf.transpose(-2, -1)).mul_(scale);
  if (m.defined()) scores.add_(m);
  return at::matmul(at::softmax(scores, -1), vf).to(q.scalar_type());
}

}  // namespace hyb::compat
