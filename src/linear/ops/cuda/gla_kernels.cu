// ops/cuda/gla_kernels: fused CUDA kernels of GLA's chunked form (the contract is gla_kernels.h,
// the LibTorch reference ../gla.cpp). Per kv head, with query head h reading kv head h / G:
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,   o_t = scale q_t S_t          (S is [K,V])
// Chunks of C = 64 tokens; P_i = inclusive prefix sum of g inside the chunk, L its last row,
// h_n the state entering chunk n:
//   h_{n+1} = exp(P_L) h_n + sum_j (k_j exp(P_L - P_j))^T v_j
//   o_i     = scale [ (q_i exp(P_i)) h_n + sum_{j<=i} A_ij v_j ],  A_ij = sum_d q_id k_jd exp(P_id - P_jd)
// A is built in 16-row sub-chunks (fla's secondary chunking) so that no exponent is positive:
// block (a, c < a) = Qm_{a-1} Kb_a^T with Qm_c[i] = q_i exp(P_i - P_{16c+15}) (rows after sub-chunk
// c) and Kb_a[j] = k_j exp(P_{16a-1} - P_j) (rows before sub-chunk a); diagonal 16x16 blocks take
// exp(P_id - P_jd) elementwise. Backward, with dh_{n+1} = dL/dh_{n+1} (dh_N = dht):
//   dh_n  = exp(P_L) dh_{n+1} + scale sum_G (q_i exp(P_i))^T do_i            (dh0 = dh_0)
//   dv_j  = sum_G sum_{i>=j} scale A_ij do_i + (k_j exp(P_L - P_j)) dh_{n+1}
//   dA_ij = scale do_i . v_j  (j <= i)
//   dq_i  = scale (do_i h_n^T) exp(P_i) + sum_{j<=i} dA_ij k_j exp(P_i - P_j)
//   dk_j  = (v_j dh_{n+1}^T) exp(P_L - P_j) + sum_G sum_{i>=j} dA_ij q_i exp(P_i - P_j)
//   dP_i  = sum_G q_i dq_i - k_i dk_i,  and at row L also
//           exp(P_L) rowsum(h_n * dh_{n+1}) + sum_j k_j (v_j dh_{n+1}^T) exp(P_L - P_j)
//   dg_t  = sum_{i >= t in the chunk} dP_i
// (the sub-chunk factorisations of dq and dk reuse Kb_a and Qm_c). Rows past T are zero
// (k = v = q = do = 0, g = 0) and never written.
//
// Kernels (launches per call do not depend on the number of chunks):
//  gla_scan_kernel<REV>  grid (K/32 * V/32, Hk, B), 128 threads: one block owns a 32x32 tile of
//      one state and walks the chunks in order (forward: h, saved[n] = h_n, ht) or in reverse
//      (backward: dh, workspace[n] = dh_{n+1}, dh0). X <- exp(P_L) X + sum_g (a_g f(P))^T b_g with
//      a = k, b = v, f = exp(P_L - P) forward and a = q, b = do, f = scale exp(P) backward.
//      The next chunk's raw tiles stream in with cp.async (double buffered) while this one runs.
//  gla_fwd_o_kernel      grid (N, H, B), 256 threads: o of one chunk of one query head.
//  gla_bwd_chunk_kernel  grid (N, Hk, B), 256 threads: dq of the G query heads, dk, dv, dg of one
//      chunk of one kv head; dv, dk and sum_G q dq accumulate in registers over the G heads.
// Matmuls: bf16 wmma 16x16x16 with fp32 accumulation; states, gates, exponentials fp32.
// Deterministic: no atomics.
#include "gla_kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

namespace hyb::ops::cuda {

namespace {

using bf16 = __nv_bfloat16;
namespace wmma = nvcuda::wmma;

constexpr int kC = 64;            // chunk rows
constexpr int kThreads = 256;     // chunk kernels: 8 warps
constexpr int kScanThreads = 128; // scan kernel: 4 warps, one 16x16 tile of a 32x32 state tile each
constexpr int kTile = 32;         // state tile (K and V) of one scan block
constexpr int kStageLd = 20;      // per-warp fp32 16x16 staging tile, padded
constexpr int kMaxScanG = 8;      // query heads per kv head the backward scan holds in smem

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragAT = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBT = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Rows of the sub-chunk operands (see the header): Kb_a holds rows j < 16a at KOFF[a] + j,
// Qm_c rows i >= 16(c+1) at QOFF[c] + i - 16(c+1). 96 rows each.
__device__ __forceinline__ int kb_off(int a) { return a == 1 ? 0 : (a == 2 ? 16 : 48); }
__device__ __forceinline__ int qm_off(int c) { return c == 0 ? 0 : (c == 1 ? 48 : 80); }

// ---- small vector helpers (8 bf16 = 16 bytes, 4 bf16 = 8 bytes) ----
__device__ __forceinline__ void ld8(const bf16* p, float (&x)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const float2 f = __bfloat1622float2(h[e]);
    x[2 * e] = f.x;
    x[2 * e + 1] = f.y;
  }
}
__device__ __forceinline__ void ld4(const bf16* p, float (&x)[4]) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
  const float2 f0 = __bfloat1622float2(h[0]), f1 = __bfloat1622float2(h[1]);
  x[0] = f0.x; x[1] = f0.y; x[2] = f1.x; x[3] = f1.y;
}
__device__ __forceinline__ void ldf8(const float* p, float (&x)[8]) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w; x[4] = b.x; x[5] = b.y; x[6] = b.z; x[7] = b.w;
}
__device__ __forceinline__ uint4 pack8(const float (&x)[8]) {
  uint4 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int e = 0; e < 4; ++e) h[e] = __floats2bfloat162_rn(x[2 * e], x[2 * e + 1]);
  return u;
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  const int n = valid ? 16 : 0;  // src-size 0: fills the 16 bytes with zeros (rows past T)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait1() { asm volatile("cp.async.wait_group 1;\n" ::); }

// =============================================================================================
// Scan kernel: X <- exp(P_L) X + sum_{g<G} (a_g * f(P))^T b_g over the chunks, one 32x32 tile.
// REV = false: forward state (a = k, b = v, f = exp(P_L - P)), xs[n] = h_n, xT = ht.
// REV = true: state gradient (a = q, b = do, f = scale exp(P)), xs[n] = dh_{n+1}, xT = dh0.
// =============================================================================================
__host__ __device__ constexpr size_t scan_smem_bytes(int G) {
  return 2 * (size_t(kC) * kTile * 4 + 2 * size_t(G) * kC * kTile * 2)  // raw g, a, b (x2)
         + size_t(G) * kC * (kTile + 8) * 2                             // a * f(P), bf16
         + size_t(kTile) * (kTile + 4) * 4                              // matmul result
         + 4 * kTile * 4 + kTile * 4;                                   // segment sums, P_L
}

template <bool REV>
__global__ void __launch_bounds__(kScanThreads)
gla_scan_kernel(const bf16* __restrict__ a, int a_heads, const bf16* __restrict__ bm, int b_heads,
                const float* __restrict__ g, const float* __restrict__ x0, float* __restrict__ xs,
                float* __restrict__ xT, float scale, int T, int Hk, int G, int K, int V) {
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int LDAD = kTile + 8, LDU = kTile + 4;
  float* graw = reinterpret_cast<float*>(smem);                                   // [2][64][32]
  bf16* araw = reinterpret_cast<bf16*>(smem + 2 * kC * kTile * 4);                 // [2][G][64][32]
  bf16* braw = araw + 2 * G * kC * kTile;                                          // [2][G][64][32]
  bf16* ad = braw + 2 * G * kC * kTile;                                            // [G][64][40]
  float* upd = reinterpret_cast<float*>(ad + G * kC * LDAD);                       // [32][36]
  float* tot = upd + kTile * LDU;                                                  // [4][32]
  float* PL = tot + 4 * kTile;                                                     // [32]

  const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
  const int nvt = V / kTile, kt = blockIdx.x / nvt, vt = blockIdx.x % nvt;
  const int hk = blockIdx.y, b = blockIdx.z, head0 = hk * G;
  const int N = (T + kC - 1) / kC;

  auto issue = [&](int n, int s) {
    const int t0 = n * kC;
    float* gd = graw + s * kC * kTile;
    for (int idx = tid; idx < kC * 8; idx += kScanThreads) {
      const int r = idx >> 3, c = (idx & 7) * 4, t = t0 + r;
      const bool ok = t < T;
      const float* src = ok ? g + ((size_t(b) * T + t) * Hk + hk) * K + kt * kTile + c : g;
      cp_async16(gd + r * kTile + c, src, ok);
    }
    bf16* ads = araw + s * G * kC * kTile;
    bf16* bds = braw + s * G * kC * kTile;
    for (int idx = tid; idx < G * kC * 4; idx += kScanThreads) {
      const int gi = idx >> 8, r = (idx >> 2) & 63, c = (idx & 3) * 8, t = t0 + r;
      const bool ok = t < T;
      const bf16* sa = ok ? a + ((size_t(b) * T + t) * a_heads + head0 + gi) * K + kt * kTile + c : a;
      const bf16* sb = ok ? bm + ((size_t(b) * T + t) * b_heads + head0 + gi) * V + vt * kTile + c : bm;
      cp_async16(ads + (gi * kC + r) * kTile + c, sa, ok);
      cp_async16(bds + (gi * kC + r) * kTile + c, sb, ok);
    }
  };

  // This thread's 8 state entries: row d, columns c0..c0+7 of the tile.
  const int d = tid >> 2, c0 = (tid & 3) * 8;
  const size_t head_off = (size_t(b) * Hk + hk) * K * V;
  const size_t tile_off = size_t(kt * kTile + d) * V + vt * kTile + c0;
  float x[8];
  if (x0) {
    ldf8(x0 + head_off + tile_off, x);
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] = 0.f;
  }

  issue(REV ? N - 1 : 0, 0);
  cp_async_commit();
  for (int it = 0; it < N; ++it) {
    const int n = REV ? N - 1 - it : it, s = it & 1;
    if (it + 1 < N) issue(REV ? n - 1 : n + 1, s ^ 1);
    cp_async_commit();  // possibly empty: keeps "all but the newest group" = this chunk
    cp_async_wait1();
    __syncthreads();

    // Prefix sums of g: lane = channel, warp = 16-row segment.
    const float* gs = graw + s * kC * kTile;
    float p[16], run = 0.f;
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      run += gs[(w * 16 + r) * kTile + lane];
      p[r] = run;
    }
    tot[w * kTile + lane] = run;
    __syncthreads();
    float off = 0.f, myoff = 0.f;
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      if (u == w) myoff = off;
      off += tot[u * kTile + lane];
    }
    const float pl = off;  // P_L (same rounding as the last row's prefix)
    if (w == 0) PL[lane] = pl;
    const bf16* as = araw + s * G * kC * kTile;
    for (int gi = 0; gi < G; ++gi) {
#pragma unroll
      for (int r = 0; r < 16; ++r) {
        const int j = w * 16 + r;
        const float pj = p[r] + myoff;
        const float f = REV ? scale * expf(pj) : expf(pl - pj);
        ad[(gi * kC + j) * LDAD + lane] =
            __float2bfloat16(__bfloat162float(as[(gi * kC + j) * kTile + lane]) * f);
      }
    }
    __syncthreads();

    // upd = sum_g ad_g^T b_g: warp w owns the 16x16 block (w / 2, w % 2) of the tile.
    {
      const int tr = w >> 1, tc = w & 1;
      const bf16* bs = braw + s * G * kC * kTile;
      FragC acc;
      wmma::fill_fragment(acc, 0.f);
      for (int gi = 0; gi < G; ++gi) {
#pragma unroll
        for (int js = 0; js < kC / 16; ++js) {
          FragAT fa;
          FragB fb;
          wmma::load_matrix_sync(fa, ad + (gi * kC + js * 16) * LDAD + tr * 16, LDAD);
          wmma::load_matrix_sync(fb, bs + (gi * kC + js * 16) * kTile + tc * 16, kTile);
          wmma::mma_sync(acc, fa, fb, acc);
        }
      }
      wmma::store_matrix_sync(upd + tr * 16 * LDU + tc * 16, acc, LDU, wmma::mem_row_major);
    }
    __syncthreads();

    // Save the state entering this step, then X <- exp(P_L) X + upd.
    float* out = xs + ((size_t(b) * Hk + hk) * N + n) * size_t(K) * V + tile_off;
    *reinterpret_cast<float4*>(out) = make_float4(x[0], x[1], x[2], x[3]);
    *reinterpret_cast<float4*>(out + 4) = make_float4(x[4], x[5], x[6], x[7]);
    const float dec = expf(PL[d]);
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] = dec * x[e] + upd[d * LDU + c0 + e];
  }
  if (xT) {
    float* out = xT + head_off + tile_off;
    *reinterpret_cast<float4*>(out) = make_float4(x[0], x[1], x[2], x[3]);
    *reinterpret_cast<float4*>(out + 4) = make_float4(x[4], x[5], x[6], x[7]);
  }
}

// =============================================================================================
// Shared memory of the chunk kernels (K = V = 128: forward 215 KB, backward 218 KB; 1 block/SM).
// bf16 rows are padded by 8 (16 bytes) and fp32 rows by 4 against bank conflicts; every wmma
// tile pointer is 32-byte aligned (tiles start at multiples of 16 rows / 16 columns).
// =============================================================================================
template <int K, int V>
struct Lay {
  static constexpr int LDK = K + 8, LDV = V + 8, LDP = K + 4, LDA = kC + 8;
  static constexpr size_t P = 0;                                  // fp32 [64][LDP] prefix sums
  static constexpr size_t Kk = P + size_t(kC) * LDP * 4;          // bf16 [64][LDK] k
  static constexpr size_t Vv = Kk + size_t(kC) * LDK * 2;         // bf16 [64][LDV] v
  static constexpr size_t Hs = Vv + size_t(kC) * LDV * 2;         // bf16 [K][LDV] h_n (or dh)
  static constexpr size_t Q = Hs + size_t(K) * LDV * 2;           // bf16 [64][LDK] q
  static constexpr size_t Do = Q + size_t(kC) * LDK * 2;          // bf16 [64][LDV] do
  static constexpr size_t Kb = Do + size_t(kC) * LDV * 2;         // bf16 [96][LDK] Kb_a
  static constexpr size_t Qm = Kb + size_t(96) * LDK * 2;         // bf16 [96][LDK] Qm_c
  static constexpr size_t A = Qm + size_t(96) * LDK * 2;          // bf16 [64][LDA] scale * A
  static constexpr size_t dA = A + size_t(kC) * LDA * 2;          // bf16 [64][LDA] dA
  static constexpr size_t Stage = dA + size_t(kC) * LDA * 2;      // fp32 [8][16][kStageLd]
  static constexpr size_t Tot = Stage + size_t(8) * 16 * kStageLd * 4;  // fp32 [256]
  static constexpr size_t ColPart = Tot + size_t(kThreads) * 4;   // fp32 [4][K]
  static constexpr size_t Hdh = ColPart + size_t(4) * K * 4;      // fp32 [K]
  static constexpr size_t fwd_bytes = ColPart;
  static constexpr size_t bwd_bytes = Hdh + size_t(K) * 4;
  static_assert(size_t(kC) * LDP * 4 <= size_t(192) * LDK * 2, "dP reuses Kb+Qm");
};

// 64 rows of W bf16 from global (row stride `stride` elements) into smem (row stride ld);
// rows >= nvalid are zero.
template <int W>
__device__ __forceinline__ void load_rows(const bf16* src, size_t stride, int nvalid, bf16* dst,
                                          int ld) {
  constexpr int VPR = W / 8;
  for (int idx = threadIdx.x; idx < kC * VPR; idx += kThreads) {
    const int r = idx / VPR, c = (idx % VPR) * 8;
    uint4 u = make_uint4(0, 0, 0, 0);
    if (r < nvalid) u = *reinterpret_cast<const uint4*>(src + size_t(r) * stride + c);
    *reinterpret_cast<uint4*>(dst + r * ld + c) = u;
  }
}

// A [K][V] fp32 state from global into smem as bf16 (row stride V + 8).
template <int K, int V>
__device__ __forceinline__ void load_state_bf16(const float* src, bf16* dst) {
  constexpr int V4 = V / 4, LDV = V + 8;
  for (int idx = threadIdx.x; idx < K * V4; idx += kThreads) {
    const int r = idx / V4, c = (idx % V4) * 4;
    const float4 x = *reinterpret_cast<const float4*>(src + size_t(r) * V + c);
    uint2 u;
    reinterpret_cast<__nv_bfloat162*>(&u)[0] = __floats2bfloat162_rn(x.x, x.y);
    reinterpret_cast<__nv_bfloat162*>(&u)[1] = __floats2bfloat162_rn(x.z, x.w);
    *reinterpret_cast<uint2*>(dst + r * LDV + c) = u;
  }
}

// P[i][d] = sum_{s<=i} g_sd over the chunk: thread = (channel d, segment of 64 / (256/K) rows);
// segment totals meet in `tot`. Contains a __syncthreads.
template <int K>
__device__ __forceinline__ void chunk_prefix(const float* g, size_t stride, int nvalid, float* P,
                                             float* tot) {
  constexpr int NSEG = kThreads / K, R = kC / NSEG, LDP = K + 4;
  const int d = threadIdx.x % K, s = threadIdx.x / K;
  float x[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int i = s * R + r;
    x[r] = i < nvalid ? g[size_t(i) * stride + d] : 0.f;
  }
  float run = 0.f;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    run += x[r];
    x[r] = run;
  }
  tot[s * K + d] = run;
  __syncthreads();
  float off = 0.f;
  for (int u = 0; u < s; ++u) off += tot[u * K + d];
#pragma unroll
  for (int r = 0; r < R; ++r) P[(s * R + r) * LDP + d] = x[r] + off;
}

// dg[i] = sum_{i' >= i} dP[i'] (reverse cumulative sum over the chunk), rows < nvalid written.
// Contains a __syncthreads.
template <int K>
__device__ __forceinline__ void chunk_suffix_store(const float* dP, float* dg, size_t stride,
                                                   int nvalid, float* tot) {
  constexpr int NSEG = kThreads / K, R = kC / NSEG, LDP = K + 4;
  const int d = threadIdx.x % K, s = threadIdx.x / K;
  float x[R], run = 0.f;
#pragma unroll
  for (int r = R - 1; r >= 0; --r) {
    run += dP[(s * R + r) * LDP + d];
    x[r] = run;
  }
  tot[s * K + d] = run;
  __syncthreads();
  float off = 0.f;
  for (int u = NSEG - 1; u > s; --u) off += tot[u * K + d];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int i = s * R + r;
    if (i < nvalid) dg[size_t(i) * stride + d] = x[r] + off;
  }
}

// Kb_a[j] = k_j exp(P_{16a-1} - P_j) for j < 16a (a = 1..3).
template <int K>
__device__ __forceinline__ void build_kb(const bf16* sk, const float* P, bf16* Kb) {
  constexpr int LDK = K + 8, LDP = K + 4;
  for (int idx = threadIdx.x; idx < 96 * K; idx += kThreads) {
    const int r = idx / K, d = idx % K;
    const int a = r < 16 ? 1 : (r < 48 ? 2 : 3), j = r - kb_off(a), bnd = 16 * a - 1;
    Kb[r * LDK + d] = __float2bfloat16(__bfloat162float(sk[j * LDK + d]) *
                                       expf(P[bnd * LDP + d] - P[j * LDP + d]));
  }
}

// Qm_c[i] = q_i exp(P_i - P_{16c+15}) for i >= 16(c+1) (c = 0..2).
template <int K>
__device__ __forceinline__ void build_qm(const bf16* sq, const float* P, bf16* Qm) {
  constexpr int LDK = K + 8, LDP = K + 4;
  for (int idx = threadIdx.x; idx < 96 * K; idx += kThreads) {
    const int r = idx / K, d = idx % K;
    const int c = r < 48 ? 0 : (r < 80 ? 1 : 2), i = r - qm_off(c) + 16 * (c + 1), m = 16 * c + 15;
    Qm[r * LDK + d] = __float2bfloat16(__bfloat162float(sq[i * LDK + d]) *
                                       expf(P[i * LDP + d] - P[m * LDP + d]));
  }
}

// sA = scale * A (lower block triangle; blocks above the diagonal are left unwritten and never
// read). Needs Qm, Kb built. Off-diagonal blocks: warps 0..5, one wmma product each; diagonal
// blocks: all 8 warps, elementwise (warp = (block, 8 columns), lane = (row, 4 columns)).
template <int K>
__device__ __forceinline__ void build_A(const bf16* sq, const bf16* sk, const float* P,
                                        const bf16* Qm, const bf16* Kb, bf16* sA, float* stage,
                                        float scale) {
  constexpr int LDK = K + 8, LDP = K + 4, LDA = kC + 8;
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (w < 6) {
    const int a = w == 0 ? 1 : (w < 3 ? 2 : 3), c = w == 0 ? 0 : (w < 3 ? w - 1 : w - 3);
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
#pragma unroll
    for (int ks = 0; ks < K / 16; ++ks) {
      FragA fa;
      FragBT fb;
      wmma::load_matrix_sync(fa, Qm + qm_off(a - 1) * LDK + ks * 16, LDK);
      wmma::load_matrix_sync(fb, Kb + (kb_off(a) + 16 * c) * LDK + ks * 16, LDK);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    float* st = stage + w * 16 * kStageLd;
    wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
    __syncwarp();
    const int row = lane >> 1, c0 = (lane & 1) * 8;
#pragma unroll
    for (int e = 0; e < 8; ++e)
      sA[(16 * a + row) * LDA + 16 * c + c0 + e] = __float2bfloat16(scale * st[row * kStageLd + c0 + e]);
  }
  {
    const int a = w & 3, il = lane & 15, jb = (w >> 2) * 8 + (lane >> 4) * 4, i = 16 * a + il;
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    for (int d = 0; d < K; d += 4) {
      const float4 pi = *reinterpret_cast<const float4*>(P + i * LDP + d);
      float qi[4];
      ld4(sq + i * LDK + d, qi);
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int j = 16 * a + jb + u;
        const float4 pj = *reinterpret_cast<const float4*>(P + j * LDP + d);
        float kj[4];
        ld4(sk + j * LDK + d, kj);
        // fminf: for j > i the exponent is positive (the entry is masked below anyway).
        acc[u] += qi[0] * kj[0] * __expf(fminf(pi.x - pj.x, 0.f)) +
                  qi[1] * kj[1] * __expf(fminf(pi.y - pj.y, 0.f)) +
                  qi[2] * kj[2] * __expf(fminf(pi.z - pj.z, 0.f)) +
                  qi[3] * kj[3] * __expf(fminf(pi.w - pj.w, 0.f));
      }
    }
#pragma unroll
    for (int u = 0; u < 4; ++u)
      sA[i * LDA + 16 * a + jb + u] = __float2bfloat16(jb + u <= il ? scale * acc[u] : 0.f);
  }
}

// =============================================================================================
// Forward output: one block per (chunk, query head, batch).
// =============================================================================================
template <int K, int V>
__global__ void __launch_bounds__(kThreads, 1)
gla_fwd_o_kernel(const bf16* __restrict__ q, const bf16* __restrict__ k, const bf16* __restrict__ v,
                 const float* __restrict__ g, const float* __restrict__ hs, bf16* __restrict__ o,
                 float scale, int T, int H, int Hk) {
  using L = Lay<K, V>;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDP = L::LDP, LDA = L::LDA;
  extern __shared__ __align__(128) unsigned char smem[];
  float* P = reinterpret_cast<float*>(smem + L::P);
  bf16* sk = reinterpret_cast<bf16*>(smem + L::Kk);
  bf16* sv = reinterpret_cast<bf16*>(smem + L::Vv);
  bf16* sH = reinterpret_cast<bf16*>(smem + L::Hs);
  bf16* sq = reinterpret_cast<bf16*>(smem + L::Q);
  bf16* sKb = reinterpret_cast<bf16*>(smem + L::Kb);
  bf16* sQm = reinterpret_cast<bf16*>(smem + L::Qm);
  bf16* sA = reinterpret_cast<bf16*>(smem + L::A);
  float* stage = reinterpret_cast<float*>(smem + L::Stage);
  float* tot = reinterpret_cast<float*>(smem + L::Tot);

  const int n = blockIdx.x, h = blockIdx.y, b = blockIdx.z, N = gridDim.x;
  const int G = H / Hk, hk = h / G, t0 = n * kC, nvalid = min(kC, T - t0);
  const size_t rq = size_t(H) * K, rk = size_t(Hk) * K, rv = size_t(Hk) * V;
  const size_t row0 = size_t(b) * T + t0;

  load_rows<K>(q + row0 * rq + size_t(h) * K, rq, nvalid, sq, LDK);
  load_rows<K>(k + row0 * rk + size_t(hk) * K, rk, nvalid, sk, LDK);
  load_rows<V>(v + row0 * rv + size_t(hk) * V, rv, nvalid, sv, LDV);
  load_state_bf16<K, V>(hs + ((size_t(b) * Hk + hk) * N + n) * size_t(K) * V, sH);
  chunk_prefix<K>(g + row0 * rk + size_t(hk) * K, rk, nvalid, P, tot);
  __syncthreads();
  build_kb<K>(sk, P, sKb);
  build_qm<K>(sq, P, sQm);
  __syncthreads();
  build_A<K>(sq, sk, P, sQm, sKb, sA, stage, scale);
  __syncthreads();
  // qd = scale q exp(P), into the Qm buffer (no longer needed).
  bf16* sqd = sQm;
  for (int idx = threadIdx.x; idx < kC * K; idx += kThreads) {
    const int i = idx / K, d = idx % K;
    sqd[i * LDK + d] = __float2bfloat16(scale * __bfloat162float(sq[i * LDK + d]) * expf(P[i * LDP + d]));
  }
  __syncthreads();

  // o tile (row block a, column tile ct) = qd[a] h + sum_{c<=a} (scale A)[a,c] v[c].
  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, a = w & 3;
  const int row = lane >> 1, c0 = (lane & 1) * 8, i = 16 * a + row;
  float* st = stage + w * 16 * kStageLd;
#pragma unroll
  for (int t = 0; t < V / 32; ++t) {
    const int ct = (w >> 2) + 2 * t;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
#pragma unroll
    for (int ks = 0; ks < K / 16; ++ks) {
      FragA fa;
      FragB fb;
      wmma::load_matrix_sync(fa, sqd + 16 * a * LDK + ks * 16, LDK);
      wmma::load_matrix_sync(fb, sH + ks * 16 * LDV + ct * 16, LDV);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    for (int c = 0; c <= a; ++c) {
      FragA fa;
      FragB fb;
      wmma::load_matrix_sync(fa, sA + 16 * a * LDA + 16 * c, LDA);
      wmma::load_matrix_sync(fb, sv + 16 * c * LDV + ct * 16, LDV);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
    __syncwarp();
    float x[8];
    ldf8(st + row * kStageLd + c0, x);
    if (i < nvalid)
      *reinterpret_cast<uint4*>(o + (row0 + i) * size_t(H) * V + size_t(h) * V + ct * 16 + c0) = pack8(x);
    __syncwarp();
  }
}

// =============================================================================================
// Backward per chunk: one block per (chunk, kv head, batch), looping over the G query heads.
// Warp w owns row block a = w & 3 and column tiles (w >> 2) + 2t of dq/dk/dP (K) and dv (V);
// lane = (row lane/2, 8 columns from (lane&1)*8) of each 16x16 tile.
// =============================================================================================
template <int K, int V>
__global__ void __launch_bounds__(kThreads, 1)
gla_bwd_chunk_kernel(const bf16* __restrict__ q, const bf16* __restrict__ k,
                     const bf16* __restrict__ v, const float* __restrict__ g,
                     const float* __restrict__ hs, const float* __restrict__ dhs,
                     const bf16* __restrict__ dO, bf16* __restrict__ dq, bf16* __restrict__ dk,
                     bf16* __restrict__ dv, float* __restrict__ dg, float scale, int T, int H, int Hk) {
  using L = Lay<K, V>;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDP = L::LDP, LDA = L::LDA;
  constexpr int NK = K / 32, NV = V / 32;
  extern __shared__ __align__(128) unsigned char smem[];
  float* P = reinterpret_cast<float*>(smem + L::P);
  bf16* sk = reinterpret_cast<bf16*>(smem + L::Kk);
  bf16* sv = reinterpret_cast<bf16*>(smem + L::Vv);
  bf16* sH = reinterpret_cast<bf16*>(smem + L::Hs);
  bf16* sq = reinterpret_cast<bf16*>(smem + L::Q);
  bf16* sdo = reinterpret_cast<bf16*>(smem + L::Do);
  bf16* sKb = reinterpret_cast<bf16*>(smem + L::Kb);
  bf16* sQm = reinterpret_cast<bf16*>(smem + L::Qm);
  bf16* sA = reinterpret_cast<bf16*>(smem + L::A);
  bf16* sdA = reinterpret_cast<bf16*>(smem + L::dA);
  float* stage = reinterpret_cast<float*>(smem + L::Stage);
  float* tot = reinterpret_cast<float*>(smem + L::Tot);
  float* colpart = reinterpret_cast<float*>(smem + L::ColPart);
  float* hdh = reinterpret_cast<float*>(smem + L::Hdh);

  const int n = blockIdx.x, hk = blockIdx.y, b = blockIdx.z, N = gridDim.x;
  const int G = H / Hk, t0 = n * kC, nvalid = min(kC, T - t0);
  const size_t rq = size_t(H) * K, rk = size_t(Hk) * K, rv = size_t(Hk) * V, ro = size_t(H) * V;
  const size_t row0 = size_t(b) * T + t0;
  const size_t st_off = ((size_t(b) * Hk + hk) * N + n) * size_t(K) * V;

  const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, a = w & 3;
  const int row = lane >> 1, c0 = (lane & 1) * 8, i = 16 * a + row;
  float* st = stage + w * 16 * kStageLd;

  // ---- Phase 1: the state parts of dv and dk, with dh_{n+1} as the bf16 operand. ----
  load_rows<K>(k + row0 * rk + size_t(hk) * K, rk, nvalid, sk, LDK);
  load_rows<V>(v + row0 * rv + size_t(hk) * V, rv, nvalid, sv, LDV);
  load_state_bf16<K, V>(dhs + st_off, sH);
  chunk_prefix<K>(g + row0 * rk + size_t(hk) * K, rk, nvalid, P, tot);
  __syncthreads();
  bf16* skd = sKb;  // k_j exp(P_L - P_j), rows 0..63 of the Kb buffer
  for (int idx = threadIdx.x; idx < kC * K; idx += kThreads) {
    const int r = idx / K, d = idx % K;
    skd[r * LDK + d] = __float2bfloat16(__bfloat162float(sk[r * LDK + d]) *
                                        expf(P[(kC - 1) * LDP + d] - P[r * LDP + d]));
  }
  __syncthreads();

  FragC dv_acc[NV];
#pragma unroll
  for (int t = 0; t < NV; ++t) {
    const int vt = (w >> 2) + 2 * t;
    wmma::fill_fragment(dv_acc[t], 0.f);
#pragma unroll
    for (int ks = 0; ks < K / 16; ++ks) {
      FragA fa;
      FragB fb;
      wmma::load_matrix_sync(fa, skd + 16 * a * LDK + ks * 16, LDK);
      wmma::load_matrix_sync(fb, sH + ks * 16 * LDV + vt * 16, LDV);
      wmma::mma_sync(dv_acc[t], fa, fb, dv_acc[t]);
    }
  }
  float dk_r[NK][8], dP_r[NK][8];
#pragma unroll
  for (int t = 0; t < NK; ++t) {
    const int d0 = ((w >> 2) + 2 * t) * 16;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
#pragma unroll
    for (int vs = 0; vs < V / 16; ++vs) {
      FragA fa;
      FragBT fb;  // dh^T: element (v, d) = dh[d][v]
      wmma::load_matrix_sync(fa, sv + 16 * a * LDV + vs * 16, LDV);
      wmma::load_matrix_sync(fb, sH + d0 * LDV + vs * 16, LDV);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
    __syncwarp();
    float s8[8], pl[8], pi[8], kx[8], cs[8];
    ldf8(st + row * kStageLd + c0, s8);
    ldf8(P + (kC - 1) * LDP + d0 + c0, pl);
    ldf8(P + i * LDP + d0 + c0, pi);
    ld8(sk + i * LDK + d0 + c0, kx);
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      dk_r[t][e] = s8[e] * expf(pl[e] - pi[e]);
      dP_r[t][e] = 0.f;
      cs[e] = kx[e] * dk_r[t][e];
    }
    // Column sums over the 16 rows of this tile (lanes of equal parity), fixed order.
#pragma unroll
    for (int e = 0; e < 8; ++e) {
#pragma unroll
      for (int off = 2; off < 32; off <<= 1) cs[e] += __shfl_xor_sync(0xffffffffu, cs[e], off);
    }
    if (lane < 2) {
#pragma unroll
      for (int e = 0; e < 8; ++e) colpart[a * K + d0 + c0 + e] = cs[e];
    }
    __syncwarp();
  }
  __syncthreads();

  // ---- Phase 2: h_n as bf16 (and rowsum(h_n * dh_{n+1}) in fp32), Kb. ----
  {
    constexpr int V4 = V / 4;
    const float* hn = hs + st_off;
    const float* dh = dhs + st_off;
    for (int idx = threadIdx.x; idx < K * V4; idx += kThreads) {  // trip count uniform: K*V4 % 256 == 0
      const int r = idx / V4, c = (idx % V4) * 4;
      const float4 x = *reinterpret_cast<const float4*>(hn + size_t(r) * V + c);
      const float4 y = *reinterpret_cast<const float4*>(dh + size_t(r) * V + c);
      uint2 u;
      reinterpret_cast<__nv_bfloat162*>(&u)[0] = __floats2bfloat162_rn(x.x, x.y);
      reinterpret_cast<__nv_bfloat162*>(&u)[1] = __floats2bfloat162_rn(x.z, x.w);
      *reinterpret_cast<uint2*>(sH + r * LDV + c) = u;
      float p = x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
#pragma unroll
      for (int off = V4 / 2; off > 0; off >>= 1) p += __shfl_xor_sync(0xffffffffu, p, off);
      if ((lane & (V4 - 1)) == 0) hdh[r] = p;
    }
  }
  build_kb<K>(sk, P, sKb);
  __syncthreads();

  for (int gq = 0; gq < G; ++gq) {
    const int hq = hk * G + gq;
    load_rows<K>(q + row0 * rq + size_t(hq) * K, rq, nvalid, sq, LDK);
    load_rows<V>(dO + row0 * ro + size_t(hq) * V, ro, nvalid, sdo, LDV);
    __syncthreads();
    build_qm<K>(sq, P, sQm);
    __syncthreads();
    build_A<K>(sq, sk, P, sQm, sKb, sA, stage, scale);
    __syncthreads();

    // dv[a] += sum_{a2>=a} (scale A)[a2,a]^T do[a2]
#pragma unroll
    for (int t = 0; t < NV; ++t) {
      const int vt = (w >> 2) + 2 * t;
      for (int a2 = a; a2 < 4; ++a2) {
        FragAT fa;
        FragB fb;
        wmma::load_matrix_sync(fa, sA + 16 * a2 * LDA + 16 * a, LDA);
        wmma::load_matrix_sync(fb, sdo + 16 * a2 * LDV + vt * 16, LDV);
        wmma::mma_sync(dv_acc[t], fa, fb, dv_acc[t]);
      }
    }
    // dA = scale do v^T on the 10 blocks (ta, tc <= ta), masked j <= i on the diagonal.
    for (int tile = w; tile < 10; tile += 8) {
      const int ta = tile == 0 ? 0 : (tile < 3 ? 1 : (tile < 6 ? 2 : 3));
      const int tc = tile - ta * (ta + 1) / 2;
      FragC acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int vs = 0; vs < V / 16; ++vs) {
        FragA fa;
        FragBT fb;  // v^T: element (v, j) = v[j][v]
        wmma::load_matrix_sync(fa, sdo + 16 * ta * LDV + vs * 16, LDV);
        wmma::load_matrix_sync(fb, sv + 16 * tc * LDV + vs * 16, LDV);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
      __syncwarp();
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const int col = c0 + e;
        const float val = (ta == tc && col > row) ? 0.f : scale * st[row * kStageLd + col];
        sdA[(16 * ta + row) * LDA + 16 * tc + col] = __float2bfloat16(val);
      }
      __syncwarp();
    }
    __syncthreads();

#pragma unroll
    for (int t = 0; t < NK; ++t) {
      const int dt = (w >> 2) + 2 * t, d0 = dt * 16 + c0;
      float pi[8], x[8], s8[8];
      ldf8(P + i * LDP + d0, pi);
      // dq, inter-chunk: scale (do h^T) exp(P_i)
      {
        FragC acc;
        wmma::fill_fragment(acc, 0.f);
#pragma unroll
        for (int vs = 0; vs < V / 16; ++vs) {
          FragA fa;
          FragBT fb;  // h^T
          wmma::load_matrix_sync(fa, sdo + 16 * a * LDV + vs * 16, LDV);
          wmma::load_matrix_sync(fb, sH + dt * 16 * LDV + vs * 16, LDV);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
        __syncwarp();
        ldf8(st + row * kStageLd + c0, s8);
#pragma unroll
        for (int e = 0; e < 8; ++e) x[e] = scale * expf(pi[e]) * s8[e];
        __syncwarp();
      }
      // dq, earlier sub-chunks: exp(P_i - P_b) (dA[a, <a] Kb_a)
      if (a > 0) {
        FragC acc;
        wmma::fill_fragment(acc, 0.f);
        for (int c = 0; c < a; ++c) {
          FragA fa;
          FragB fb;
          wmma::load_matrix_sync(fa, sdA + 16 * a * LDA + 16 * c, LDA);
          wmma::load_matrix_sync(fb, sKb + (kb_off(a) + 16 * c) * LDK + dt * 16, LDK);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
        __syncwarp();
        float pb[8];
        ldf8(st + row * kStageLd + c0, s8);
        ldf8(P + (16 * a - 1) * LDP + d0, pb);
#pragma unroll
        for (int e = 0; e < 8; ++e) x[e] += expf(pi[e] - pb[e]) * s8[e];
        __syncwarp();
      }
      // dq, diagonal block: sum_{j<=i} dA_ij k_j exp(P_i - P_j)
      for (int jl = 0; jl <= row; ++jl) {
        const int j = 16 * a + jl;
        const float dav = __bfloat162float(sdA[i * LDA + j]);
        float kx[8], pj[8];
        ld8(sk + j * LDK + d0, kx);
        ldf8(P + j * LDP + d0, pj);
#pragma unroll
        for (int e = 0; e < 8; ++e) x[e] += dav * kx[e] * __expf(pi[e] - pj[e]);
      }
      {
        float qx[8];
        ld8(sq + i * LDK + d0, qx);
#pragma unroll
        for (int e = 0; e < 8; ++e) dP_r[t][e] += qx[e] * x[e];
        if (i < nvalid)
          *reinterpret_cast<uint4*>(dq + (row0 + i) * rq + size_t(hq) * K + d0) = pack8(x);
      }
      // dk (this lane's row is j = i), later sub-chunks: exp(P_m - P_j) (dA[>a, a]^T Qm_a)
      float y[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) y[e] = 0.f;
      if (a < 3) {
        FragC acc;
        wmma::fill_fragment(acc, 0.f);
        for (int a2 = a + 1; a2 < 4; ++a2) {
          FragAT fa;  // dA^T: element (j, i) = dA[i][j]
          FragB fb;
          wmma::load_matrix_sync(fa, sdA + 16 * a2 * LDA + 16 * a, LDA);
          wmma::load_matrix_sync(fb, sQm + (qm_off(a) + 16 * (a2 - a - 1)) * LDK + dt * 16, LDK);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(st, acc, kStageLd, wmma::mem_row_major);
        __syncwarp();
        float pm[8];
        ldf8(st + row * kStageLd + c0, s8);
        ldf8(P + (16 * a + 15) * LDP + d0, pm);
#pragma unroll
        for (int e = 0; e < 8; ++e) y[e] = expf(pm[e] - pi[e]) * s8[e];
        __syncwarp();
      }
      // dk, diagonal block: sum_{i2>=j} dA_{i2 j} q_{i2} exp(P_{i2} - P_j)
      for (int il = row; il < 16; ++il) {
        const int i2 = 16 * a + il;
        const float dav = __bfloat162float(sdA[i2 * LDA + i]);
        float qx[8], p2[8];
        ld8(sq + i2 * LDK + d0, qx);
        ldf8(P + i2 * LDP + d0, p2);
#pragma unroll
        for (int e = 0; e < 8; ++e) y[e] += dav * qx[e] * __expf(p2[e] - pi[e]);
      }
#pragma unroll
      for (int e = 0; e < 8; ++e) dk_r[t][e] += y[e];
    }
    __syncthreads();  // q, do, Qm, A, dA are overwritten by the next head
  }

  // ---- Epilogue: dv, dk, then dg = reverse cumsum of dP. ----
#pragma unroll
  for (int t = 0; t < NV; ++t) {
    const int vt = (w >> 2) + 2 * t;
    wmma::store_matrix_sync(st, dv_acc[t], kStageLd, wmma::mem_row_major);
    __syncwarp();
    float x[8];
    ldf8(st + row * kStageLd + c0, x);
    if (i < nvalid)
      *reinterpret_cast<uint4*>(dv + (row0 + i) * rv + size_t(hk) * V + vt * 16 + c0) = pack8(x);
    __syncwarp();
  }
  float* dPs = reinterpret_cast<float*>(smem + L::Kb);  // fp32 [64][LDP] over Kb + Qm
#pragma unroll
  for (int t = 0; t < NK; ++t) {
    const int d0 = ((w >> 2) + 2 * t) * 16 + c0;
    float kx[8];
    ld8(sk + i * LDK + d0, kx);
    if (i < nvalid)
      *reinterpret_cast<uint4*>(dk + (row0 + i) * rk + size_t(hk) * K + d0) = pack8(dk_r[t]);
#pragma unroll
    for (int e = 0; e < 8; ++e) dPs[i * LDP + d0 + e] = dP_r[t][e] - kx[e] * dk_r[t][e];
  }
  __syncthreads();
  // Row L: through exp(P_L) on h_n and the k_j exp(P_L - P_j) of the state update.
  for (int d = threadIdx.x; d < K; d += kThreads)
    dPs[(kC - 1) * LDP + d] += expf(P[(kC - 1) * LDP + d]) * hdh[d] +
                               (((colpart[d] + colpart[K + d]) + colpart[2 * K + d]) + colpart[3 * K + d]);
  __syncthreads();
  chunk_suffix_store<K>(dPs, dg + row0 * rk + size_t(hk) * K, rk, nvalid, tot);
}

// ---- host side ----
template <bool REV>
cudaError_t launch_scan(const bf16* a, int a_heads, const bf16* bm, int b_heads, const float* g,
                        const float* x0, float* xs, float* xT, float scale, int B, int T, int Hk,
                        int G, int K, int V, cudaStream_t stream) {
  const size_t bytes = scan_smem_bytes(G);
  auto kern = gla_scan_kernel<REV>;
  if (bytes > 48 * 1024) {
    const cudaError_t e =
        cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid((K / kTile) * (V / kTile), Hk, B);
  kern<<<grid, kScanThreads, bytes, stream>>>(a, a_heads, bm, b_heads, g, x0, xs, xT, scale, T, Hk,
                                               G, K, V);
  return cudaGetLastError();
}

template <int K, int V>
cudaError_t launch_fwd_o(const bf16* q, const bf16* k, const bf16* v, const float* g,
                         const float* hs, bf16* o, float scale, int B, int T, int H, int Hk,
                         cudaStream_t stream) {
  const size_t bytes = Lay<K, V>::fwd_bytes;
  auto kern = gla_fwd_o_kernel<K, V>;
  const cudaError_t e =
      cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  if (e != cudaSuccess) return e;
  const dim3 grid((T + kC - 1) / kC, H, B);
  kern<<<grid, kThreads, bytes, stream>>>(q, k, v, g, hs, o, scale, T, H, Hk);
  return cudaGetLastError();
}

template <int K, int V>
cudaError_t launch_bwd_chunk(const bf16* q, const bf16* k, const bf16* v, const float* g,
                             const float* hs, const float* dhs, const bf16* dO, bf16* dq, bf16* dk,
                             bf16* dv, float* dg, float scale, int B, int T, int H, int Hk,
                             cudaStream_t stream) {
  const size_t bytes = Lay<K, V>::bwd_bytes;
  auto kern = gla_bwd_chunk_kernel<K, V>;
  const cudaError_t e =
      cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  if (e != cudaSuccess) return e;
  const dim3 grid((T + kC - 1) / kC, Hk, B);
  kern<<<grid, kThreads, bytes, stream>>>(q, k, v, g, hs, dhs, dO, dq, dk, dv, dg, scale, T, H, Hk);
  return cudaGetLastError();
}

bool shapes_ok(int B, int T, int H, int Hk, int K, int V) {
  return gla_fused_supported(K, V) && B > 0 && T > 0 && H > 0 && Hk > 0 && H % Hk == 0 &&
         H <= 65535 && B <= 65535;
}

size_t state_bytes(int B, int T, int Hk, int K, int V) {
  const size_t N = (size_t(T) + kC - 1) / kC;
  return size_t(B) * Hk * N * K * V * sizeof(float);
}

}  // namespace

bool gla_fused_supported(int K, int V) { return (K == 64 || K == 128) && (V == 64 || V == 128); }

// The states entering every chunk, fp32 [B,Hk,N,K,V].
size_t gla_fwd_saved_bytes(int B, int T, int H, int Hk, int K, int V) {
  return state_bytes(B, T, Hk, K, V);
}

int gla_fwd(const void* q, const void* k, const void* v, const float* g, const float* h0,
            float scale, int B, int T, int H, int Hk, int K, int V, void* o, float* ht, void* saved,
            void* stream) {
  if (!shapes_ok(B, T, H, Hk, K, V) || !q || !k || !v || !g || !o || !saved)
    return cudaErrorInvalidValue;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const auto* qb = static_cast<const bf16*>(q);
  const auto* kb = static_cast<const bf16*>(k);
  const auto* vb = static_cast<const bf16*>(v);
  float* hs = static_cast<float*>(saved);
  cudaError_t e = launch_scan<false>(kb, Hk, vb, Hk, g, h0, hs, ht, 1.f, B, T, Hk, 1, K, V, s);
  if (e != cudaSuccess) return e;
  auto* ob = static_cast<bf16*>(o);
  if (K == 64 && V == 64) e = launch_fwd_o<64, 64>(qb, kb, vb, g, hs, ob, scale, B, T, H, Hk, s);
  else if (K == 64) e = launch_fwd_o<64, 128>(qb, kb, vb, g, hs, ob, scale, B, T, H, Hk, s);
  else if (V == 64) e = launch_fwd_o<128, 64>(qb, kb, vb, g, hs, ob, scale, B, T, H, Hk, s);
  else e = launch_fwd_o<128, 128>(qb, kb, vb, g, hs, ob, scale, B, T, H, Hk, s);
  if (e != cudaSuccess) return e;
  return cudaGetLastError();
}

// dh_{n+1} of every chunk, fp32 [B,Hk,N,K,V].
size_t gla_bwd_workspace_bytes(int B, int T, int H, int Hk, int K, int V) {
  return state_bytes(B, T, Hk, K, V);
}

int gla_bwd(const void* q, const void* k, const void* v, const float* g, const float* h0,
            const void* saved, const void* do_, const float* dht, float scale, int B, int T, int H,
            int Hk, int K, int V, void* dq, void* dk, void* dv, float* dg, float* dh0,
            void* workspace, void* stream) {
  if (!shapes_ok(B, T, H, Hk, K, V) || !q || !k || !v || !g || !saved || !do_ || !dq || !dk ||
      !dv || !dg || !workspace)
    return cudaErrorInvalidValue;
  if (H / Hk > kMaxScanG) return cudaErrorNotSupported;  // scan smem holds G heads' tiles
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const auto* qb = static_cast<const bf16*>(q);
  const auto* kb = static_cast<const bf16*>(k);
  const auto* vb = static_cast<const bf16*>(v);
  const auto* dob = static_cast<const bf16*>(do_);
  const auto* hs = static_cast<const float*>(saved);
  float* dhs = static_cast<float*>(workspace);
  const int G = H / Hk;
  cudaError_t e = launch_scan<true>(qb, H, dob, H, g, dht, dhs, dh0, scale, B, T, Hk, G, K, V, s);
  if (e != cudaSuccess) return e;
  auto* dqb = static_cast<bf16*>(dq);
  auto* dkb = static_cast<bf16*>(dk);
  auto* dvb = static_cast<bf16*>(dv);
  if (K == 64 && V == 64)
    e = launch_bwd_chunk<64, 64>(qb, kb, vb, g, hs, dhs, dob, dqb, dkb, dvb, dg, scale, B, T, H, Hk, s);
  else if (K == 64)
    e = launch_bwd_chunk<64, 128>(qb, kb, vb, g, hs, dhs, dob, dqb, dkb, dvb, dg, scale, B, T, H, Hk, s);
  else if (V == 64)
    e = launch_bwd_chunk<128, 64>(qb, kb, vb, g, hs, dhs, dob, dqb, dkb, dvb, dg, scale, B, T, H, Hk, s);
  else
    e = launch_bwd_chunk<128, 128>(qb, kb, vb, g, hs, dhs, dob, dqb, dkb, dvb, dg, scale, B, T, H, Hk, s);
  if (e != cudaSuccess) return e;
  return cudaGetLastError();
}

}  // namespace hyb::ops::cuda
