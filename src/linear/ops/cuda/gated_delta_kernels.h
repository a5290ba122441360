// ops/cuda/gated_delta_kernels: the fused CUDA kernels of the gated delta rule's chunked form
// (Gated DeltaNet, JetBlock), forward and backward, as plain functions on raw pointers. No
// LibTorch and no CUDA header here: the .cu file is compiled by nvcc in every build (CI too, which
// has no GPU), the LibTorch glue (gated_delta_autograd.cpp) only in the CUDA build. The math is
// ../gated_delta.cpp's (the LibTorch reference these kernels must match):
//   S_t = exp(g_t) (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,   o_t = S_t^T (scale q_t)
// in chunks of 64 tokens (WY / UT transform inside each chunk, no triangular-solve library call).
// Every tensor is contiguous:
//   q, k [B,T,H,K] bf16 (L2-normalised by the caller), v [B,T,H,V] bf16, g [B,T,H] fp32 (log
//   decay <= 0), beta [B,T,H] fp32, o [B,T,H,V] bf16; states h0, ht, dht, dh0 [B,H,K,V] fp32
//   (any may be null: zero / unused). K, V in {64, 128} (gated_delta_fused_supported says).
// Each function returns 0 or a cudaError_t code, and launches on `stream` (a cudaStream_t).
#pragma once
#include <cstddef>

namespace hyb::ops::cuda {

bool gated_delta_fused_supported(int K, int V);

// Bytes the forward saves for the backward (states entering every chunk, and what else it keeps).
size_t gated_delta_fwd_saved_bytes(int B, int T, int H, int K, int V);
int gated_delta_fwd(const void* q, const void* k, const void* v, const float* g,
                    const float* beta, const float* h0, float scale, int B, int T, int H, int K,
                    int V, void* o, float* ht, void* saved, void* stream);

// Scratch the backward needs (device memory the caller allocates, contents undefined).
size_t gated_delta_bwd_workspace_bytes(int B, int T, int H, int K, int V);
// do_ [B,T,H,V] bf16 is dL/do; dht dL/dht (null: zero). Writes dq, dk [B,T,H,K], dv [B,T,H,V]
// (bf16), dg, dbeta [B,T,H] (fp32), dh0 (fp32, skipped when null).
int gated_delta_bwd(const void* q, const void* k, const void* v, const float* g,
                    const float* beta, const float* h0, const void* saved, const void* do_,
                    const float* dht, float scale, int B, int T, int H, int K, int V, void* dq,
                    void* dk, void* dv, float* dg, float* dbeta, float* dh0, void* workspace,
                    void* stream);

}  // namespace hyb::ops::cuda
