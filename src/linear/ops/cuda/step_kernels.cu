// ops/cuda/step_kernels: the fused decoding step (the contract and the math are in step_kernels.h).
// Decoding reads each state once and writes it once, so the step is bound by memory bandwidth:
// the state kernel gives each thread one column of a 32-row slice of a state (a warp reads 32
// consecutive floats of a row: 128-byte transactions), keeps those 32 values in registers between
// the update and the readout, and spreads (b, head, 32 columns) over the grid so that a batch of
// one still has heads * K/32 blocks in flight. Values a LibTorch op would store in the activation
// type (a convolution's output, SiLU of it) are rounded to it here too, so that bf16 matches the
// LibTorch step to its own rounding; everything else is fp32.
#include "step_kernels.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace hyb::ops::cuda {

namespace {

using bf16 = __nv_bfloat16;
constexpr int kMaxGroups = 16;  // GLA: query heads per kv head the state kernel holds

__device__ __forceinline__ float ld(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, size_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, size_t i, float x) { p[i] = x; }
__device__ __forceinline__ void st(bf16* p, size_t i, float x) { p[i] = __float2bfloat16(x); }
// x as a tensor of element type T would hold it.
__device__ __forceinline__ float round_as(const float*, float x) { return x; }
__device__ __forceinline__ float round_as(const bf16*, float x) {
  return __bfloat162float(__float2bfloat16(x));
}

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
// LibTorch's softplus (beta 1, threshold 20) and log_sigmoid.
__device__ __forceinline__ float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float log_sigmoid(float x) { return fminf(x, 0.0f) - log1pf(expf(-fabsf(x))); }

// Sum over the block's D threads (D/32 warps); every thread gets the result. `scratch` holds
// D/32 floats; the block syncs inside.
template <int D>
__device__ float block_sum(float x, float* scratch) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  float s = 0.0f;
#pragma unroll
  for (int w = 0; w < D / 32; ++w) s += scratch[w];
  return s;
}

// Channel c of a causal convolution at this token: the W-1 cached inputs [B, W-1, C] of row b and
// the new input x, times taps (taps_row points at channel c's W taps). Rounded as LibTorch stores
// the convolution's output, then SiLU, rounded again.
template <typename T>
__device__ float conv_silu(const T* cache, const T* x, const T* taps_row, int b, int c, int C,
                           int W) {
  float y = 0.0f;
  for (int w = 0; w < W - 1; ++w) y += ld(cache, (size_t(b) * (W - 1) + w) * C + c) * ld(taps_row, w);
  y += ld(x, size_t(b) * C + c) * ld(taps_row, W - 1);
  return round_as(x, silu(round_as(x, y)));
}

// ---- Gated delta rule (GDN, JetBlock): grid (D/32, H, B), D threads -------------------------------
template <typename T, int D>
__global__ void __launch_bounds__(D) gated_delta_state_kernel(GatedDeltaStep a) {
  constexpr int NW = D / 32;
  __shared__ float qs[D], ks[D], red[NW][32], scratch[NW];
  const int b = blockIdx.z, h = blockIdx.y, t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int C = a.H * D, ch = h * D + t;
  const T *q = static_cast<const T*>(a.q), *k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);

  // q and k of channel ch: SiLU of the convolution (GDN) or of the projection (JetBlock).
  float qv, kv;
  if (a.jet) {
    qv = round_as(q, silu(ld(q, size_t(b) * C + ch)));
    kv = round_as(k, silu(ld(k, size_t(b) * C + ch)));
  } else {
    qv = conv_silu(static_cast<const T*>(a.q_conv), q, static_cast<const T*>(a.q_taps) + size_t(ch) * a.W, b, ch, C, a.W);
    kv = conv_silu(static_cast<const T*>(a.k_conv), k, static_cast<const T*>(a.k_taps) + size_t(ch) * a.W, b, ch, C, a.W);
  }
  // L2 norm per head (fla's l2norm: x / sqrt(sum x^2 + 1e-6)).
  qs[t] = qv * rsqrtf(block_sum<D>(qv * qv, scratch) + 1e-6f);
  ks[t] = kv * rsqrtf(block_sum<D>(kv * kv, scratch) + 1e-6f);

  // v of this thread's column c (every warp needs it; W loads each).
  const int c = blockIdx.x * 32 + lane, vch = h * D + c;
  const T* v_taps = static_cast<const T*>(a.v_taps) + (a.jet ? (size_t(b) * C + vch) * a.W : size_t(vch) * a.W);
  const float vv = conv_silu(static_cast<const T*>(a.v_conv), v, v_taps, b, vch, C, a.W);

  // Gates of (b, h).
  const float beta = sigmoid(ld(static_cast<const T*>(a.b_raw), size_t(b) * a.H + h));
  const float g = -expf(ld(static_cast<const T*>(a.A_log), h)) *
                  softplus(ld(static_cast<const T*>(a.a_raw), size_t(b) * a.H + h) +
                           ld(static_cast<const T*>(a.dt_bias), h));
  __syncthreads();  // qs, ks complete

  // S = exp(g) S;  u = beta (v - S^T k);  S += k u^T;  o = scale S^T q   (rows 32*warp.. of column c)
  float* S = a.state + ((size_t(b) * a.H + h) * D + warp * 32) * D + c;
  const float decay = expf(g);
  float s[32], part = 0.0f;
#pragma unroll
  for (int r = 0; r < 32; ++r) {
    s[r] = S[size_t(r) * D] * decay;
    part += ks[warp * 32 + r] * s[r];
  }
  red[warp][lane] = part;
  __syncthreads();
  float kS = 0.0f;
#pragma unroll
  for (int w = 0; w < NW; ++w) kS += red[w][lane];
  const float u = beta * (vv - kS);
  float po = 0.0f;
#pragma unroll
  for (int r = 0; r < 32; ++r) {
    s[r] += ks[warp * 32 + r] * u;
    S[size_t(r) * D] = s[r];
    po += qs[warp * 32 + r] * s[r];
  }
  __syncthreads();  // every warp has read red
  red[warp][lane] = po;
  __syncthreads();
  if (warp == 0) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < NW; ++w) o += red[w][lane];
    a.o_scratch[(size_t(b) * a.H + h) * D + c] = o * a.scale;
  }
}

// ---- GLA: grid (D/32, Hk, B), D threads ------------------------------------------------------------
template <typename T, int D>
__global__ void __launch_bounds__(D) gla_state_kernel(GlaStep a) {
  constexpr int NW = D / 32;
  __shared__ float qs[kMaxGroups][D], red[kMaxGroups][NW][32];
  __shared__ float ks[D], decay[D];
  const int b = blockIdx.z, j = blockIdx.y, t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int G = a.H / a.Hk;
  const size_t kv_row = size_t(b) * a.Hk * D + size_t(j) * D;
  ks[t] = ld(static_cast<const T*>(a.k), kv_row + t);
  decay[t] = expf(log_sigmoid(ld(static_cast<const T*>(a.gk_raw), kv_row + t)) / a.normalizer);
  for (int g = 0; g < G; ++g)
    qs[g][t] = ld(static_cast<const T*>(a.q), (size_t(b) * a.H + size_t(j) * G + g) * D + t);
  const int c = blockIdx.x * 32 + lane;
  const float vv = ld(static_cast<const T*>(a.v), kv_row + c);
  __syncthreads();

  // S = diag(exp(gk)) S + k^T v;  o_g = scale q_g S    (rows 32*warp.. of column c)
  float* S = a.state + ((size_t(b) * a.Hk + j) * D + warp * 32) * D + c;
  float s[32];
#pragma unroll
  for (int r = 0; r < 32; ++r) {
    const int i = warp * 32 + r;
    s[r] = S[size_t(r) * D] * decay[i] + ks[i] * vv;
    S[size_t(r) * D] = s[r];
  }
  for (int g = 0; g < G; ++g) {
    float po = 0.0f;
#pragma unroll
    for (int r = 0; r < 32; ++r) po += qs[g][warp * 32 + r] * s[r];
    red[g][warp][lane] = po;
  }
  __syncthreads();
  for (int g = warp; g < G; g += NW) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < NW; ++w) o += red[g][w][lane];
    a.o_scratch[(size_t(b) * a.H + size_t(j) * G + g) * D + c] = o * a.scale;
  }
}

// ---- Gated RMSNorm of o and the convolution caches' shift: grid (H, B), D threads ----------------
struct NormArgs {
  int H, W;
  const float* o;           // [B, H, D]
  const void* gate;         // [B, H*D]
  const void* norm_w;       // [D]
  float eps;
  void* y;                  // [B, H*D]
  int n_conv;               // caches to shift (0..3), with this token's inputs
  void* conv[3];            // [B, W-1, H*D]
  const void* conv_in[3];   // [B, H*D]
};

template <typename T, int D>
__global__ void __launch_bounds__(D) norm_kernel(NormArgs a) {
  __shared__ float scratch[D / 32];
  const int b = blockIdx.y, h = blockIdx.x, t = threadIdx.x;
  const int C = a.H * D;
  const size_t at = size_t(b) * C + size_t(h) * D + t;
  const float o = a.o[at];
  const float inv = rsqrtf(block_sum<D>(o * o, scratch) / D + a.eps);
  const float gate = ld(static_cast<const T*>(a.gate), at);
  st(static_cast<T*>(a.y), at, o * inv * ld(static_cast<const T*>(a.norm_w), t) * silu(gate));

  // Every state block has read the caches (they ran in the launch before): shift this token in.
  const int ch = h * D + t;
#pragma unroll
  for (int i = 0; i < 3; ++i) {  // unrolled: a runtime index into the kernel's arguments would copy them to the stack
    if (i >= a.n_conv) break;
    T* cache = static_cast<T*>(a.conv[i]);
    for (int r = 0; r + 1 < a.W - 1; ++r)
      cache[(size_t(b) * (a.W - 1) + r) * C + ch] = cache[(size_t(b) * (a.W - 1) + r + 1) * C + ch];
    cache[(size_t(b) * (a.W - 1) + a.W - 2) * C + ch] = static_cast<const T*>(a.conv_in[i])[size_t(b) * C + ch];
  }
}

template <typename T, int D>
int launch_gated_delta(const GatedDeltaStep& a, cudaStream_t s) {
  gated_delta_state_kernel<T, D><<<dim3(D / 32, a.H, a.B), D, 0, s>>>(a);
  NormArgs n{a.H, a.W, a.o_scratch, a.gate, a.norm_w, a.eps, a.y, 0, {}, {}};
  if (a.jet) {
    n.n_conv = 1, n.conv[0] = a.v_conv, n.conv_in[0] = a.v;
  } else {
    n.n_conv = 3;
    n.conv[0] = a.q_conv, n.conv[1] = a.k_conv, n.conv[2] = a.v_conv;
    n.conv_in[0] = a.q, n.conv_in[1] = a.k, n.conv_in[2] = a.v;
  }
  norm_kernel<T, D><<<dim3(a.H, a.B), D, 0, s>>>(n);
  return static_cast<int>(cudaGetLastError());
}

template <typename T, int D>
int launch_gla(const GlaStep& a, cudaStream_t s) {
  gla_state_kernel<T, D><<<dim3(D / 32, a.Hk, a.B), D, 0, s>>>(a);
  NormArgs n{a.H, 1, a.o_scratch, a.gate, a.norm_w, a.eps, a.y, 0, {}, {}};
  norm_kernel<T, D><<<dim3(a.H, a.B), D, 0, s>>>(n);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

bool step_supported(int head_dim) { return head_dim == 64 || head_dim == 128; }

int gated_delta_step(const GatedDeltaStep& a, StepDtype dtype, void* stream) {
  if (!step_supported(a.d) || a.W < 2 || a.W > 8 || a.B < 1 || a.H < 1) return cudaErrorNotSupported;
  auto s = static_cast<cudaStream_t>(stream);
  const bool f32 = dtype == StepDtype::kF32;
  if (a.d == 64) return f32 ? launch_gated_delta<float, 64>(a, s) : launch_gated_delta<bf16, 64>(a, s);
  return f32 ? launch_gated_delta<float, 128>(a, s) : launch_gated_delta<bf16, 128>(a, s);
}

int gla_step(const GlaStep& a, StepDtype dtype, void* stream) {
  if (!step_supported(a.d) || a.B < 1 || a.Hk < 1 || a.H % a.Hk != 0 || a.H / a.Hk > kMaxGroups)
    return cudaErrorNotSupported;
  auto s = static_cast<cudaStream_t>(stream);
  const bool f32 = dtype == StepDtype::kF32;
  if (a.d == 64) return f32 ? launch_gla<float, 64>(a, s) : launch_gla<bf16, 64>(a, s);
  return f32 ? launch_gla<float, 128>(a, s) : launch_gla<bf16, 128>(a, s);
}

}  // namespace hyb::ops::cuda
