// ops/dispatch: see dispatch.h. The fused path needs no #ifdef beyond this file: in a CPU build
// the glue (cuda/autograd.cpp) is not compiled and try_fused_* always answer nothing.
#include "linear/ops/dispatch.h"

#include <ATen/ATen.h>

#include <atomic>

#include "util/error.h"
#ifdef HYB_WITH_CUDA
#include "linear/ops/cuda/autograd.h"
#include "linear/ops/cuda/step.h"
#endif

namespace hyb::ops {

namespace {
std::atomic<Kernels> g_kernels{Kernels::kFused};

// The kernels take bf16 activations on a CUDA device and chunks of 64; fp32 and fp64 runs
// (the tests' tight checks, --dtype float32) keep the LibTorch form.
bool fused_applies(const at::Tensor& activation, int64_t chunk) {
  return fused_kernels_apply(activation.device(), activation.scalar_type()) && chunk == 64;
}
}  // namespace

void set_kernels(Kernels k) { g_kernels.store(k); }
Kernels kernels() { return g_kernels.load(); }

Kernels parse_kernels(const std::string& name, const std::string& flag) {
  if (name == "fused") return Kernels::kFused;
  if (name == "reference") return Kernels::kReference;
  fail(flag, "expected 'fused' or 'reference', got '{}'", name);
}

bool fused_kernels_built() {
#ifdef HYB_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool fused_kernels_apply(c10::Device device, c10::ScalarType dtype) {
  return fused_kernels_built() && g_kernels.load() == Kernels::kFused && device.is_cuda() &&
         dtype == at::kBFloat16;
}

c10::optional<Recurrence> try_fused_gla_chunk(const at::Tensor& q, const at::Tensor& k,
                                              const at::Tensor& v, const at::Tensor& gk,
                                              double scale, const at::Tensor& h0, int64_t chunk) {
#ifdef HYB_WITH_CUDA
  if (fused_applies(v, chunk) && cuda::gla_supported(q.size(3), v.size(3)))
    return cuda::gla_chunk(q, k, v, gk, scale, h0);
#endif
  return c10::nullopt;
}

c10::optional<Recurrence> try_fused_gated_delta_chunk(const at::Tensor& q, const at::Tensor& k,
                                                      const at::Tensor& v, const at::Tensor& g,
                                                      const at::Tensor& beta, double scale,
                                                      const at::Tensor& h0, int64_t chunk) {
#ifdef HYB_WITH_CUDA
  if (fused_applies(v, chunk) && cuda::gated_delta_supported(q.size(3), v.size(3)))
    return cuda::gated_delta_chunk(q, k, v, g, beta, scale, h0);
#endif
  return c10::nullopt;
}

bool fused_step_applies(const at::Tensor& x, int64_t head_dim) {
  return fused_kernels_built() && g_kernels.load() == Kernels::kFused && x.is_cuda() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) &&
         (head_dim == 64 || head_dim == 128);
}

at::Tensor fused_gla_step(const GlaStepInputs& in) {
#ifdef HYB_WITH_CUDA
  return cuda::gla_step(in);
#else
  fail("fused_gla_step", "this build has no CUDA kernels");
#endif
}

at::Tensor fused_gated_delta_step(const GatedDeltaStepInputs& in) {
#ifdef HYB_WITH_CUDA
  return cuda::gated_delta_step(in);
#else
  fail("fused_gated_delta_step", "this build has no CUDA kernels");
#endif
}

}  // namespace hyb::ops
