// ops/cuda/autograd: the fused kernels (gla_kernels.cu, gated_delta_kernels.cu) as differentiable
// LibTorch functions. CUDA builds only; ops/dispatch.cpp decides when they run. Inputs as the
// chunked forms in ../ops.h take them (any float dtype: q, k, v go to bf16, gates to fp32); the
// output o and the state are fp32, as the LibTorch forms return them.
#pragma once
#include "linear/ops/ops.h"

namespace hyb::ops::cuda {

bool gla_supported(int64_t K, int64_t V);
Recurrence gla_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0);

bool gated_delta_supported(int64_t K, int64_t V);
Recurrence gated_delta_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0);

}  // namespace hyb::ops::cuda
