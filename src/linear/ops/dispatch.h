// ops/dispatch: which implementation runs the chunked forms; the seam between the ops and the
// fused CUDA kernels of ops/cuda/. gla_chunk and gated_delta_chunk ask try_fused_* first: it runs
// the fused kernels when they apply (a CUDA build, bf16 activations on a CUDA device, head dims the
// kernels have, chunks of 64, kernels() == kFused) and returns nothing otherwise, so that the
// LibTorch chunked form (the CPU path and the reference) runs. Both are differentiable.
#pragma once
#include <c10/util/Optional.h>

#include <string>

#include "linear/ops/ops.h"

namespace hyb::ops {

enum class Kernels { kFused, kReference };
// Process-wide choice (kFused by default); `--kernels fused|reference` on the CLI sets it.
void set_kernels(Kernels k);
Kernels kernels();
// "fused" or "reference"; throws hyb::Error naming `flag` otherwise.
Kernels parse_kernels(const std::string& name, const std::string& flag = "--kernels");
// Whether this build has the fused kernels at all (a CUDA build).
bool fused_kernels_built();
// Whether the chunked forms of activations of this device and dtype run the fused kernels (before
// the per-call checks of head dims and chunk size). What distill.json's "linear_kernels" reports.
bool fused_kernels_apply(c10::Device device, c10::ScalarType dtype);

c10::optional<Recurrence> try_fused_gla_chunk(const at::Tensor& q, const at::Tensor& k,
                                              const at::Tensor& v, const at::Tensor& gk,
                                              double scale, const at::Tensor& h0, int64_t chunk);
c10::optional<Recurrence> try_fused_gated_delta_chunk(const at::Tensor& q, const at::Tensor& k,
                                                      const at::Tensor& v, const at::Tensor& g,
                                                      const at::Tensor& beta, double scale,
                                                      const at::Tensor& h0, int64_t chunk);

}  // namespace hyb::ops
