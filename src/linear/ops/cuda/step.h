// ops/cuda/step: the fused decoding step kernels (step_kernels.h) on LibTorch tensors. CUDA builds
// only; ops/dispatch.cpp decides when they run (fused_step_applies).
#pragma once
#include "linear/ops/dispatch.h"

namespace hyb::ops::cuda {

at::Tensor gla_step(const GlaStepInputs& in);
at::Tensor gated_delta_step(const GatedDeltaStepInputs& in);

}  // namespace hyb::ops::cuda
