// ops/gla_naive: the GLA recurrence token by token, the reference the chunked form and the
// decoding step are tested against (cf. fla/ops/gla/naive.py).
//   S_t = diag(exp(gk_t)) S_{t-1} + k_t^T v_t,    o_t = (scale q_t) S_t
#include "linear/ops/ops.h"

namespace hyb::ops {

Recurrence gla_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3);
  const int64_t Hk = k.size(2), G = H / Hk, V = v.size(3);
  TORCH_CHECK(H == G * Hk, "gla: query heads must be a multiple of kv heads");

  // Group the query heads by the kv head they read: [B,T,Hk,G,K].
  auto qg = q.to(ct).reshape({B, T, Hk, G, K}) * scale;
  auto kf = k.to(ct), vf = v.to(ct), decay = gk.to(ct).exp();
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, Hk, K, V}, q.options().dtype(ct));

  std::vector<at::Tensor> out;
  out.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto k_t = kf.select(1, t), v_t = vf.select(1, t);                // [B,Hk,K], [B,Hk,V]
    S = S * decay.select(1, t).unsqueeze(-1)                          // diag(exp(gk_t)) S
        + k_t.unsqueeze(-1) * v_t.unsqueeze(-2);                      // + k_t^T v_t
    auto q_t = qg.select(1, t);                                       // [B,Hk,G,K]
    out.push_back((q_t.unsqueeze(-1) * S.unsqueeze(2)).sum(-2));      // sum_i q_i S_i: [B,Hk,G,V]
  }
  auto o = at::stack(out, 1).reshape({B, T, H, V});
  return {o, S};
}

}  // namespace hyb::ops
