// ops/gated_delta_naive: the gated delta rule token by token, the reference the chunked (WY)
// form and the decoding step are tested against (cf. fla/ops/gated_delta_rule/naive.py).
//   S'  = exp(g_t) S_{t-1}
//   u_t = b_t (v_t - S'^T k_t)            (the delta: what S' fails to recall for k_t)
//   S_t = S' + k_t u_t^T                  (= a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T)
//   o_t = S_t^T (scale q_t)
#include "linear/ops/ops.h"

namespace hyb::ops {

Recurrence gated_delta_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  auto qf = q.to(ct) * scale, kf = k.to(ct), vf = v.to(ct);
  auto a = g.to(ct).exp(), bf = beta.to(ct);
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, H, K, V}, q.options().dtype(ct));

  std::vector<at::Tensor> out;
  out.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto k_t = kf.select(1, t), v_t = vf.select(1, t), q_t = qf.select(1, t);  // [B,H,K|V]
    S = S * a.select(1, t).view({B, H, 1, 1});                                 // S' = a_t S
    auto recall = (k_t.unsqueeze(-1) * S).sum(-2);                            // S'^T k_t
    auto u = bf.select(1, t).unsqueeze(-1) * (v_t - recall);                   // [B,H,V]
    S = S + k_t.unsqueeze(-1) * u.unsqueeze(-2);                               // + k_t u_t^T
    out.push_back((q_t.unsqueeze(-1) * S).sum(-2));                            // S_t^T q_t
  }
  return {at::stack(out, 1), S};
}

}  // namespace hyb::ops
