// ops/gla: the chunked parallel form of GLA and its one-token decoding step (the reference is
// gla_naive.cpp). Chunked form, for chunks of C tokens (cf. fla/ops/gla/chunk.py), with
// gk_s <= 0 the log forget gates and decays taken as direct sums of gates (see common.cpp):
//   S_{n+1} = diag(exp(sum_{s in chunk} gk_s)) S_n + sum_j (k_j ⊙ exp(sum_{s>j} gk_s))^T v_j
//   o_i = scale [ (q_i ⊙ exp(sum_{s<=i} gk_s)) S_n + sum_{j<=i} A_ij v_j ]
//   A_ij = sum_d q_id k_jd exp(sum_{j<s<=i} gk_sd)
// Every exponent is <= 0, so nothing overflows whatever the gates. A is built in sub-chunks of 8
// rows: for rows i of sub-chunk a and columns j of earlier sub-chunks the decay factors through
// the boundary b = 8a before sub-chunk a, exp(sum_{b<=s<=i}) exp(sum_{j<s<b}) (both <= 1), and
// the block becomes one matmul; the diagonal 8x8 blocks take the pairwise decays elementwise
// (fla's secondary chunking, with fla's 16 rows halved). Query heads of one kv group are stacked
// as rows, so k, the gates and the state are held once per group.
#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"

namespace hyb::ops {

namespace {

// Sub-chunk rows. The diagonal blocks cost c x c x K elementwise per sub-chunk, the rest is
// matmuls: 8 measured faster than 16 or 4 on the CPU (Qwen2.5-1.5B shape) and halves the memory
// of fla's 16.
constexpr int64_t kSub = 8;

// sum_j A_ij v_j for the rows of every chunk: q [B,Hk,N,G,C,K], k and the log gates g
// [B,Hk,N,C,K], v [B,Hk,N,C,V] -> [B,Hk,N,G*C,V].
at::Tensor intra_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const at::Tensor& g) {
  const int64_t B = q.size(0), Hk = q.size(1), N = q.size(2), G = q.size(3), C = q.size(4);
  const int64_t K = q.size(5), V = v.size(4);
  const int64_t c = C % kSub == 0 ? kSub : C, NC = C / c;

  std::vector<at::Tensor> rows;
  for (int64_t a = 0; a < NC; ++a) {
    auto q_a = q.narrow(4, a * c, c);                         // [B,Hk,N,G,c,K]
    auto g_a = g.narrow(3, a * c, c);                         // [B,Hk,N,c,K]
    auto k_a = k.narrow(3, a * c, c), v_a = v.narrow(3, a * c, c);

    // Diagonal block: k_j decayed to row i, exp(sum_{j<s<=i} g_s) (0 for j > i).
    auto k_dec = k_a.unsqueeze(3) * segment_sums(g_a, 3).exp();  // [B,Hk,N,c(i),c(j),K]
    auto A = at::matmul(q_a.permute({0, 1, 2, 4, 3, 5}),        // [B,Hk,N,c(i),G,K]
                        k_dec.transpose(-1, -2));               // -> [B,Hk,N,c(i),G,c(j)]
    A = A.permute({0, 1, 2, 4, 3, 5}).reshape({B, Hk, N, G * c, c});
    auto o_a = at::matmul(A, v_a);                              // [B,Hk,N,G*c,V]

    if (a > 0) {  // earlier sub-chunks, through the boundary before row a*c
      auto q_in = (q_a * g_a.cumsum(3).exp().unsqueeze(3)).reshape({B, Hk, N, G * c, K});
      auto k_prev = k.narrow(3, 0, a * c) * suffix_sums(g.narrow(3, 0, a * c), 3).exp();
      auto A_prev = at::matmul(q_in, k_prev.transpose(-1, -2));  // [B,Hk,N,G*c,a*c]
      o_a = o_a + at::matmul(A_prev, v.narrow(3, 0, a * c));
    }
    rows.push_back(o_a.view({B, Hk, N, G, c, V}));
  }
  return at::cat(rows, 4).view({B, Hk, N, G * C, V});
}

}  // namespace

Recurrence gla_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0, int64_t chunk) {
  if (auto fused = try_fused_gla_chunk(q, k, v, gk, scale, h0, chunk)) return *fused;
  return gla_chunk_reference(q, k, v, gk, scale, h0, chunk);
}

Recurrence gla_chunk_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& gk, double scale, const at::Tensor& h0,
                               int64_t chunk) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3);
  const int64_t Hk = k.size(2), G = H / Hk, V = v.size(3);
  TORCH_CHECK(H == G * Hk, "gla: query heads must be a multiple of kv heads");
  const int64_t C = chunk_for(T, chunk), N = (T + C - 1) / C, Tp = N * C;

  // Chunked layouts: [B,Hk,N,C,*]; queries [B,Hk,N,G,C,K] (the G heads reading one kv head).
  auto chunks = [&](const at::Tensor& t) {
    return pad_time(t.to(ct), Tp).view({B, N, C, Hk, t.size(3)}).permute({0, 3, 1, 2, 4});
  };
  auto qc = pad_time(q.to(ct), Tp).view({B, N, C, Hk, G, K}).permute({0, 3, 1, 4, 2, 5});
  auto kc = chunks(k), vc = chunks(v);
  auto gc = chunks(gk);                       // log gates; padded rows add log 1 = 0
  auto prefix = gc.cumsum(3);                 // sum_{s<=i} gk_s: decay from the chunk start

  // State scan over chunks. dS_n = sum_j (k_j ⊙ exp(sum_{s>j} gk_s))^T v_j is what chunk n adds.
  auto dS = at::matmul((kc * suffix_sums(gc, 3).exp()).transpose(-1, -2), vc);
  auto chunk_decay = prefix.select(3, C - 1).exp().unsqueeze(-1);              // [B,Hk,N,K,1]
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, Hk, K, V}, q.options().dtype(ct));
  std::vector<at::Tensor> entering;
  entering.reserve(N);
  for (int64_t n = 0; n < N; ++n) {
    entering.push_back(S);
    S = S * chunk_decay.select(2, n) + dS.select(2, n);
  }
  auto S_in = at::stack(entering, 2);                                          // [B,Hk,N,K,V]

  // o_i = scale [ (q_i ⊙ exp(sum_{s<=i} gk_s)) S_n + sum_{j<=i} A_ij v_j ]
  auto q_dec = (qc * prefix.exp().unsqueeze(3)).reshape({B, Hk, N, G * C, K});
  auto o = at::matmul(q_dec, S_in) + intra_chunk(qc, kc, vc, gc);              // [B,Hk,N,G*C,V]
  o = (o * scale).view({B, Hk, N, G, C, V}).permute({0, 2, 4, 1, 3, 5}).reshape({B, Tp, H, V});
  return {o.narrow(1, 0, T), S};
}

// One token: S = diag(exp(gk)) S + k^T v; o = scale q S.
Recurrence gla_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& gk, double scale, const at::Tensor& h0) {
  const auto ct = compute_dtype(q);
  const int64_t B = q.size(0), H = q.size(2), K = q.size(3), Hk = k.size(2), V = v.size(3);
  TORCH_CHECK(q.size(1) == 1, "gla_step: one token at a time");
  auto S = h0.defined() ? h0.to(ct) : at::zeros({B, Hk, K, V}, q.options().dtype(ct));
  auto k_t = k.select(1, 0).to(ct), v_t = v.select(1, 0).to(ct);               // [B,Hk,K|V]
  S = S * gk.select(1, 0).to(ct).exp().unsqueeze(-1) + k_t.unsqueeze(-1) * v_t.unsqueeze(-2);
  auto o = at::matmul(q.select(1, 0).to(ct).reshape({B, Hk, H / Hk, K}), S) * scale;
  return {o.reshape({B, 1, H, V}), S};
}

}  // namespace hyb::ops
