// ops/cuda/step: see step.h. Checks what the kernels assume (contiguous tensors of the expected
// sizes, an fp32 state), brings the small parameters to the activation dtype (no copy when they
// already are, as in a model loaded in that dtype) and launches on the current stream, so that a
// CUDA graph captures the step.
#include "linear/ops/cuda/step.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>

#include "linear/ops/cuda/step_kernels.h"

namespace hyb::ops::cuda {
namespace {

void* stream() { return at::cuda::getCurrentCUDAStream().stream(); }

void check(int rc, const char* what) {
  TORCH_CHECK(rc == 0, what, ": ", cudaGetErrorString(static_cast<cudaError_t>(rc)));
}

StepDtype step_dtype(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16,
              "fused step: activations must be fp32 or bf16");
  return x.scalar_type() == at::kFloat ? StepDtype::kF32 : StepDtype::kBF16;
}

// t as a contiguous tensor of the activation dtype holding `numel` elements.
at::Tensor as(const at::Tensor& t, const at::Tensor& like, int64_t numel, const char* name) {
  TORCH_CHECK(t.defined() && t.numel() == numel, "fused step: ", name, " has ", t.numel(),
              " elements, expected ", numel);
  return t.to(like.scalar_type()).contiguous();
}

// A cache tensor the kernels update in place: it must already be contiguous and of its dtype.
void check_in_place(const at::Tensor& t, at::ScalarType dtype, int64_t numel, const char* name) {
  TORCH_CHECK(t.defined() && t.is_contiguous() && t.scalar_type() == dtype && t.numel() == numel,
              "fused step: ", name, " must be a contiguous ", dtype, " tensor of ", numel,
              " elements");
}

}  // namespace

at::Tensor gla_step(const GlaStepInputs& in) {
  const auto& x = in.q;
  const int64_t B = x.size(0), H = in.heads, Hk = in.kv_heads, d = in.norm_w.numel();
  auto q = as(in.q, x, B * H * d, "q"), k = as(in.k, x, B * Hk * d, "k");
  auto v = as(in.v, x, B * Hk * d, "v"), gk = as(in.gk_raw, x, B * Hk * d, "gk");
  auto gate = as(in.gate, x, B * H * d, "gate"), w = as(in.norm_w, x, d, "norm weight");
  check_in_place(in.state, at::kFloat, B * Hk * d * d, "the state");
  auto o = at::empty({B, H, d}, x.options().dtype(at::kFloat));
  auto y = at::empty({B, 1, H * d}, x.options());
  GlaStep a;
  a.B = B, a.H = H, a.Hk = Hk, a.d = d;
  a.q = q.data_ptr(), a.k = k.data_ptr(), a.v = v.data_ptr(), a.gk_raw = gk.data_ptr();
  a.normalizer = in.normalizer, a.gate = gate.data_ptr(), a.norm_w = w.data_ptr();
  a.eps = in.eps, a.scale = in.scale;
  a.state = in.state.data_ptr<float>(), a.o_scratch = o.data_ptr<float>(), a.y = y.data_ptr();
  check(gla_step(a, step_dtype(x), stream()), "gla_step");
  return y;
}

at::Tensor gated_delta_step(const GatedDeltaStepInputs& in) {
  const auto& x = in.q;
  const int64_t B = x.size(0), H = in.heads, d = in.norm_w.numel(), C = H * d;
  const int64_t W = in.v_taps.numel() / (in.jet ? B * C : C);
  auto q = as(in.q, x, B * C, "q"), k = as(in.k, x, B * C, "k"), v = as(in.v, x, B * C, "v");
  auto v_taps = as(in.v_taps, x, (in.jet ? B : 1) * C * W, "v taps");
  at::Tensor q_taps, k_taps;
  if (!in.jet) q_taps = as(in.q_taps, x, C * W, "q taps"), k_taps = as(in.k_taps, x, C * W, "k taps");
  auto a_raw = as(in.a_raw, x, B * H, "a"), b_raw = as(in.b_raw, x, B * H, "b");
  auto A_log = as(in.A_log, x, H, "A_log"), dt_bias = as(in.dt_bias, x, H, "dt_bias");
  auto gate = as(in.gate, x, B * C, "gate"), w = as(in.norm_w, x, d, "norm weight");
  check_in_place(in.state, at::kFloat, B * H * d * d, "the state");
  TORCH_CHECK(in.conv.size() == (in.jet ? 1u : 3u), "fused step: wrong number of conv caches");
  for (const auto& c : in.conv) check_in_place(c, x.scalar_type(), B * (W - 1) * C, "a conv cache");
  auto o = at::empty({B, H, d}, x.options().dtype(at::kFloat));
  auto y = at::empty({B, 1, C}, x.options());
  GatedDeltaStep a;
  a.B = B, a.H = H, a.d = d, a.W = W, a.jet = in.jet;
  a.q = q.data_ptr(), a.k = k.data_ptr(), a.v = v.data_ptr();
  a.q_taps = in.jet ? nullptr : q_taps.data_ptr(), a.k_taps = in.jet ? nullptr : k_taps.data_ptr();
  a.v_taps = v_taps.data_ptr();
  a.q_conv = in.jet ? nullptr : in.conv[0].data_ptr();
  a.k_conv = in.jet ? nullptr : in.conv[1].data_ptr();
  a.v_conv = in.conv.back().data_ptr();
  a.a_raw = a_raw.data_ptr(), a.b_raw = b_raw.data_ptr();
  a.A_log = A_log.data_ptr(), a.dt_bias = dt_bias.data_ptr();
  a.gate = gate.data_ptr(), a.norm_w = w.data_ptr(), a.eps = in.eps, a.scale = in.scale;
  a.state = in.state.data_ptr<float>(), a.o_scratch = o.data_ptr<float>(), a.y = y.data_ptr();
  check(gated_delta_step(a, step_dtype(x), stream()), "gated_delta_step");
  return y;
}

}  // namespace hyb::ops::cuda
