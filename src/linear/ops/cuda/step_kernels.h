// ops/cuda/step_kernels: the fused decoding step of each linear module (one token per sequence,
// a batch of sequences), as plain functions on raw pointers (no LibTorch, no CUDA header; nvcc
// compiles the .cu in every build, the glue step.cpp runs it in CUDA builds). Everything between
// the input projections and W_o runs in two launches per layer:
//   1. state kernel, grid (V/32, heads, B): the causal convolutions of this token (GDN: static
//      taps on q, k, v; JetBlock: one dynamic kernel per token on v), SiLU, the L2 norm of q and
//      k, the gates, the state update in place and the readout o (fp32 scratch);
//   2. norm kernel, grid (H, B): the gated RMSNorm of o into the output, and the shift of the
//      convolution caches by this token (after every block of 1 has read them).
// The math is the LibTorch step the kernels must match (../gla.cpp, ../gated_delta.cpp and the
// modules ../../gla.cpp, ../../gated_delta.cpp):
//   GLA  S = diag(exp(gk)) S + k^T v,            gk = logsigmoid(gk_raw) / normalizer (per key channel)
//        o_h = scale q_h S_{h/G}                 (G query heads read one kv head's state)
//   GDN  S = exp(g) S;  u = beta (v - S^T k);  S += k u^T;  o = scale S^T q
//        g = -exp(A_log) softplus(a_raw + dt_bias), beta = sigmoid(b_raw), q, k L2-normalised
//   y = o / sqrt(mean(o^2) + eps) * w * silu(gate)        (per head, fp32, then the activation type)
// Activations, taps and the small parameters are of one element type `dtype` (kF32 or kBF16, the
// model's); the states are fp32 [B, heads, K, V] (key index first) and updated in place, as are
// the convolution caches [B, W-1, C] (oldest first), so that a CUDA graph replays the step.
// Every pointer is to contiguous memory. K = V = head_dim in {64, 128}. Each function returns 0 or
// a cudaError_t code and launches on `stream` (a cudaStream_t).
#pragma once

namespace hyb::ops::cuda {

enum class StepDtype { kF32, kBF16 };

bool step_supported(int head_dim);

struct GlaStep {
  int B = 0, H = 0, Hk = 0, d = 0;  // H = G * Hk query heads
  const void *q, *k, *v;            // [B, H*d], [B, Hk*d], [B, Hk*d]
  const void* gk_raw;               // [B, Hk*d]: the gate before logsigmoid
  float normalizer = 16.0f;
  const void* gate;                 // [B, H*d]: the output gate before silu
  const void* norm_w;               // [d]
  float eps = 1e-6f, scale = 1.0f;
  float* state;                     // [B, Hk, d, d]
  float* o_scratch;                 // [B, H, d]
  void* y;                          // [B, H*d] output (before W_o)
};
int gla_step(const GlaStep& a, StepDtype dtype, void* stream);

struct GatedDeltaStep {
  int B = 0, H = 0, d = 0, W = 0;  // heads of q, k and v alike; convolution width W (2..8)
  bool jet = false;                // JetBlock: no conv on q, k; dynamic conv on v
  const void *q, *k, *v;           // [B, H*d] projections before convolution / activation
  const void *q_taps, *k_taps;     // GDN: [H*d, W]; JetBlock: unused
  const void* v_taps;              // GDN: [H*d, W]; JetBlock: [B, H*d, W] (this token's kernels)
  void *q_conv, *k_conv, *v_conv;  // [B, W-1, H*d] caches (JetBlock: v_conv only)
  const void *a_raw, *b_raw;       // [B, H]
  const void *A_log, *dt_bias;     // [H]
  const void* gate;                // [B, H*d]
  const void* norm_w;              // [d]
  float eps = 1e-6f, scale = 1.0f;
  float* state;                    // [B, H, d, d]
  float* o_scratch;                // [B, H, d]
  void* y;                         // [B, H*d]
};
int gated_delta_step(const GatedDeltaStep& a, StepDtype dtype, void* stream);

}  // namespace hyb::ops::cuda
