// linear/ops: the recurrences of the linear modules as plain tensor functions, three forms each.
//   *_naive  the token-by-token recurrence, written to be checked by eye (the reference);
//   *_chunk  the chunked parallel form (training, prefill): the fused CUDA kernels of cuda/ where
//            they apply (dispatch.h says when), else *_chunk_reference, the same form in LibTorch
//            ops (the CPU path, and what the kernels are tested against);
//   *_step   one token on a carried state (decoding).
// The modules (../gla.cpp, ../gated_delta.cpp) hold parameters and call these; nothing here
// knows about parameters. Inputs may be any floating dtype; states and outputs are computed in
// fp32 (fp64 when the inputs are fp64). Shapes use B batch, T tokens, H heads, K key and V value
// dims; a state S is [B, H, K, V] (key index first) and o_t = S_t^T q_t reads it.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace hyb::ops {

struct Recurrence {
  at::Tensor o;      // [B,T,H,V] outputs, compute dtype
  at::Tensor state;  // final state, compute dtype
};

// Helpers every op shares (common.cpp).
// fp64 stays fp64, everything else computes in fp32.
at::ScalarType compute_dtype(const at::Tensor& t);
// The chunk length used for T tokens: `chunk`, shrunk for short inputs to the next power of two
// >= T (at least 16) so that little padding is computed.
int64_t chunk_for(int64_t T, int64_t chunk);
// x [B,T,...] with zero rows appended along time up to Tp rows.
at::Tensor pad_time(const at::Tensor& x, int64_t Tp);
// Sums of consecutive log gates g (size C along `dim`), each taken directly (never as the
// difference of two prefix sums, which loses precision once the prefix sums are long):
//   segment_sums: [.., C(i), C(j), ..] = sum_{j<s<=i} g_s for j <= i, -inf above the diagonal
//                 (so that exp gives the causal decay matrix, 0 above it);
//   suffix_sums:  [.., C, ..] = sum_{s>j} g_s (the decay from row j to the end of the chunk).
at::Tensor segment_sums(const at::Tensor& g, int64_t dim);
at::Tensor suffix_sums(const at::Tensor& g, int64_t dim);

// ---- Gated linear attention (GLA) -------------------------------------------------------------
//   S_t = diag(exp(gk_t)) S_{t-1} + k_t^T v_t        (gk <= 0: log forget gate per key channel)
//   o_t = (scale q_t) S_t
// Grouped queries: q [B,T,H,K] with H = G*Hk; k, gk [B,T,Hk,K]; v [B,T,Hk,V]. Query head h reads
// kv head h / G (Hugging Face repeat_kv order), so the state is [B,Hk,K,V]. h0 may be undefined
// (zero state).
Recurrence gla_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0);
Recurrence gla_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0, int64_t chunk);
Recurrence gla_chunk_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& gk, double scale, const at::Tensor& h0,
                               int64_t chunk);
Recurrence gla_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& gk, double scale, const at::Tensor& h0);  // T == 1

// ---- Gated delta rule (Gated DeltaNet, JetBlock) ----------------------------------------------
//   S_t = a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,   a_t = exp(g_t)
//   o_t = S_t^T (scale q_t)
// q, k [B,T,H,K] (L2-normalised by the caller), v [B,T,H,V], g (log decay <= 0) and beta [B,T,H].
Recurrence gated_delta_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0);
Recurrence gated_delta_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0, int64_t chunk);
Recurrence gated_delta_chunk_reference(const at::Tensor& q, const at::Tensor& k,
                                       const at::Tensor& v, const at::Tensor& g,
                                       const at::Tensor& beta, double scale,
                                       const at::Tensor& h0, int64_t chunk);
Recurrence gated_delta_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& g, const at::Tensor& beta, double scale,
                            const at::Tensor& h0);  // T == 1

// ---- Causal depthwise convolution (short conv; JetBlock's dynamic conv) -----------------------
//   y_t[c] = sum_{w<W} x_{t-W+1+w}[c] * taps[c, w]
// x [B,T,C]; taps [C,W] (static) or [B,T,C,W] (one kernel per token, dynamic). `cache` holds the
// W-1 inputs before x, [B,W-1,C] (undefined: zeros). Returns y (x's dtype, no activation) and the
// new cache (the last W-1 inputs).
struct Conv {
  at::Tensor y, cache;
};
Conv causal_conv(const at::Tensor& x, const at::Tensor& taps, const at::Tensor& cache);
Conv causal_conv_naive(const at::Tensor& x, const at::Tensor& taps, const at::Tensor& cache);

}  // namespace hyb::ops
