// ops/cuda/gla_kernels: the fused CUDA kernels of GLA's chunked form (forward and backward), as
// plain functions on raw pointers. No LibTorch and no CUDA header here: the .cu file is compiled
// by nvcc in every build (CI too, which has no GPU), the LibTorch glue (gla_autograd.cpp) only in
// the CUDA build. The math is ../gla.cpp's (the LibTorch reference these kernels must match):
//   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,   o_t = scale q_t S_t
// in chunks of 64 tokens. Every tensor is contiguous:
//   q [B,T,H,K] bf16, k [B,T,Hk,K] bf16, v [B,T,Hk,V] bf16, g [B,T,Hk,K] fp32 (log gates <= 0),
//   o [B,T,H,V] bf16; states h0, ht, dht, dh0 [B,Hk,K,V] fp32 (any may be null: zero / unused).
// Query head h reads kv head h / (H/Hk). K, V in {64, 128} (gla_fused_supported says).
// Each function returns 0 or a cudaError_t code, and launches on `stream` (a cudaStream_t).
#pragma once
#include <cstddef>

namespace hyb::ops::cuda {

bool gla_fused_supported(int K, int V);

// Bytes the forward saves for the backward (states entering every chunk, and what else it keeps).
size_t gla_fwd_saved_bytes(int B, int T, int H, int Hk, int K, int V);
int gla_fwd(const void* q, const void* k, const void* v, const float* g, const float* h0,
            float scale, int B, int T, int H, int Hk, int K, int V,
            void* o, float* ht, void* saved, void* stream);

// Scratch the backward needs (device memory the caller allocates, contents undefined).
size_t gla_bwd_workspace_bytes(int B, int T, int H, int Hk, int K, int V);
// do_ [B,T,H,V] bf16 is dL/do; dht dL/dht (null: zero). Writes dq [B,T,H,K], dk [B,T,Hk,K],
// dv [B,T,Hk,V] (bf16), dg [B,T,Hk,K] (fp32), dh0 (fp32, skipped when null).
int gla_bwd(const void* q, const void* k, const void* v, const float* g, const float* h0,
            const void* saved, const void* do_, const float* dht, float scale,
            int B, int T, int H, int Hk, int K, int V,
            void* dq, void* dk, void* dv, float* dg, float* dh0, void* workspace, void* stream);

}  // namespace hyb::ops::cuda
