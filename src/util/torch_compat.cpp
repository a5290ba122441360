#include "util/torch_compat.h"

#include <limits>

namespace hyb::compat {

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& mask, double scale, bool is_causal) {
#if TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {
    return at::scaled_dot_product_attention(
        q, k, v, mask.defined() ? c10::optional<at::Tensor>(mask.to(q.scalar_type())) : c10::nullopt, 0.0,
        is_causal, scale);
  }
#endif
  at::Tensor m = mask;
  if (is_causal) {
    const int64_t T = q.size(-2);
    m = at::full({T, T}, -std::numeric_limits<float>::infinity(), q.options().dtype(at::kFloat)).triu(1);
  }
  // softmax(q k^T * scale + mask) v, accumulated in fp32 for low-precision inputs.
  auto qf = q.to(at::kFloat), kf = k.to(at::kFloat), vf = v.to(at::kFloat);
  auto scores = at::matmul(qf, kf.transpose(-2, -1)).mul_(scale);
  if (m.defined()) scores.add_(m);
  return at::matmul(at::softmax(scores, -1), vf).to(q.scalar_type());
}

}  // namespace hyb::compat
