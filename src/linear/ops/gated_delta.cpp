// ops/gated_delta: the chunked (WY / UT transform) form of the gated delta rule and its one-token
// decoding step (the reference is gated_delta_naive.cpp). For chunks of C tokens (cf.
// fla/ops/gated_delta_rule/chunk.py, wy_fast.py), with log decays g_s <= 0 and
//   P_i = sum_{s<=i} g_s (from the chunk start),  D_ij = exp(sum_{j<s<=i} g_s) for j <= i, else 0,
//   E_j = exp(sum_{s>j} g_s) (to the chunk end), all direct sums of gates (see common.cpp):
//   A_ij  = b_i (k_i . k_j) D_ij                    strictly lower triangular (j < i)
//   (I + A) [W U] = diag(b) [K ⊙ exp(P), V]         one unit-triangular solve (the UT transform)
//   U - W S_n = the chunk's delta-rule updates u_j given the state S_n entering it
//   S_{n+1} = exp(P_last) S_n + (K ⊙ E)^T (U - W S_n)
//   O = scale [ (Q ⊙ exp(P)) S_n + (Q K^T ⊙ D) (U - W S_n) ]
// Derivation: unrolling S within the chunk, S_i = exp(P_i) S_n + sum_{j<=i} D_ij k_j u_j^T, and
// u_i = b_i (v_i - S'^T k_i) gives u + A u = diag(b) (V - exp(P) ⊙ K S_n). All exponents <= 0.
#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"

namespace hyb::ops {

Recurrence gated_delta_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0, int64_t chunk) {
  if (auto fused = try_fused_gated_delta_chunk(q, k, v, g, beta, scale, h0, chunk)) return *fused;
  return gated_delta_chunk_reference(q, k, v, g, beta, scale, h0, chunk);
}

Recurrence gated_delta_chunk_reference(const at::Tensor& q, const at::Tensor& k,
                                       const at::Tensor& v, const at::Tensor& g,
                                       const at::Tensor& beta, double scale,
                                       const at::Tensor& h0, int64_t chunk) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
  const int64_t C = chunk_for(T, chunk), N = (T + C - 1) / C, Tp = N * C;
  auto opts = q.options().dtype(ct);

  // Chunked layouts [B,H,N,C,*] and [B,H,N,C]. Padded rows have k = v = b = 0 and g = 0: no-ops.
  auto chunks = [&](const at::Tensor& t) {
    return pad_time(t.to(ct), Tp).view({B, N, C, H, t.size(3)}).permute({0, 3, 1, 2, 4});
  };
  auto gates = [&](const at::Tensor& t) {
    return pad_time(t.to(ct), Tp).view({B, N, C, H}).permute({0, 3, 1, 2});
  };
  auto qc = chunks(q), kc = chunks(k), vc = chunks(v);
  auto gc = gates(g), bc = gates(beta);                      // log decays, b: [B,H,N,C]
  auto P = gc.cumsum(-1);                                    // from the chunk start
  auto D = segment_sums(gc, -1).exp();                       // [B,H,N,C,C], causal decays

  // UT transform: W and U for every chunk at once.
  auto A = (at::matmul(kc, kc.transpose(-1, -2)) * D * bc.unsqueeze(-1)).tril(-1);
  auto rhs = at::cat({kc * (bc * P.exp()).unsqueeze(-1), vc * bc.unsqueeze(-1)}, -1);
  auto WU = at::linalg_solve_triangular(A + at::eye(C, opts), rhs, /*upper=*/false,
                                        /*left=*/true, /*unitriangular=*/true);
  auto W = WU.narrow(-1, 0, K), U = WU.narrow(-1, K, V);

  // State scan over chunks.
  auto k_to_end = kc * suffix_sums(gc, -1).exp().unsqueeze(-1);             // [B,H,N,C,K]
  auto chunk_decay = P.select(-1, C - 1).exp().view({B, H, N, 1, 1});
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, H, K, V}, opts);
  std::vector<at::Tensor> entering, updates;
  entering.reserve(N);
  updates.reserve(N);
  for (int64_t n = 0; n < N; ++n) {
    entering.push_back(S);
    auto u = U.select(2, n) - at::matmul(W.select(2, n), S);                   // [B,H,C,V]
    updates.push_back(u);
    S = S * chunk_decay.select(2, n) + at::matmul(k_to_end.select(2, n).transpose(-1, -2), u);
  }
  auto S_in = at::stack(entering, 2), Un = at::stack(updates, 2);

  auto o = at::matmul(qc * P.exp().unsqueeze(-1), S_in)
         + at::matmul(at::matmul(qc, kc.transpose(-1, -2)) * D, Un);           // [B,H,N,C,V]
  o = (o * scale).permute({0, 2, 3, 1, 4}).reshape({B, Tp, H, V});
  return {o.narrow(1, 0, T), S};
}

// One token: S' = a S; u = b (v - S'^T k); S = S' + k u^T; o = scale S^T q.
Recurrence gated_delta_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& g, const at::Tensor& beta, double scale,
                            const at::Tensor& h0) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), H = q.size(2), K = q.size(3), V = v.size(3);
  TORCH_CHECK(q.size(1) == 1, "gated_delta_step: one token at a time");
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, H, K, V}, q.options().dtype(ct));
  auto q_t = q.select(1, 0).to(ct).unsqueeze(-2), k_t = k.select(1, 0).to(ct).unsqueeze(-2);
  auto v_t = v.select(1, 0).to(ct);                                            // [B,H,V]
  S = S * g.select(1, 0).to(ct).exp().view({B, H, 1, 1});
  auto u = beta.select(1, 0).to(ct).unsqueeze(-1) * (v_t - at::matmul(k_t, S).squeeze(-2));
  S = S + k_t.transpose(-1, -2) * u.unsqueeze(-2);
  auto o = at::matmul(q_t, S).squeeze(-2) * scale;
  return {o.unsqueeze(1), S};
}

}  // namespace hyb::ops
