#include "util/torch_compat.h"

namespace hyb::compat {

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& mask, double scale) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    return at::scaled_dot_product_attention(
        q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask) : c10::nullopt, 0.0,
        /*is_causal=*/false, scale);
  }
#endif
  // softmax(q k^T * scale + mask) v, accumulated in fp32 for low-precision inputs.
  auto qf = q.to(at::kFloat), kf = k.to(at::kFloat), vf = v.to(at::kFloat);
  auto scores = at::matmul(qf, kf.transpose(-2, -1)).mul_(scale);
  if (mask.defined()) scores.add_(mask);
  return at::matmul(at::softmax(scores, -1), vf).to(q.scalar_type());
}

}  // namespace hyb::compat
