// ops/cuda/autograd: the fused kernels as torch::autograd::Functions (see autograd.h). Each
// forward converts nothing itself: the callers below hand it bf16 q/k/v and fp32 gates, so that
// autograd's own casts carry the gradients back to the callers' dtypes. The forward keeps what
// the kernels' backward reads (the states entering every chunk) in one byte buffer whose size the
// kernels state. A kernel without a backward (it answers cudaErrorNotSupported) falls back to
// autograd through the LibTorch reference form on the saved inputs.
#include "linear/ops/cuda/autograd.h"

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "linear/ops/cuda/gated_delta_kernels.h"
#include "linear/ops/cuda/gla_kernels.h"

namespace hyb::ops::cuda {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void* stream() { return at::cuda::getCurrentCUDAStream().stream(); }

void check(int rc, const char* what) {
  TORCH_CHECK(rc == 0, what, ": ", cudaGetErrorString(static_cast<cudaError_t>(rc)));
}

// Null for an undefined or empty tensor (an absent h0 travels as an empty tensor: see below).
template <typename T = void>
T* ptr(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 ? static_cast<T*>(t.data_ptr()) : nullptr;
}

// autograd::Function::apply records every tensor input's device, so an absent initial state
// enters as an empty fp32 tensor on the activations' device and leaves as an undefined gradient.
at::Tensor state_or_empty(const at::Tensor& h0, const at::Tensor& like) {
  return h0.defined() ? h0.to(at::kFloat).contiguous() : at::empty({0}, like.options().dtype(at::kFloat));
}
bool present(const at::Tensor& t) { return t.defined() && t.numel() > 0; }

at::Tensor bytes(size_t n, const at::Tensor& like) {
  return at::empty({static_cast<int64_t>(n)}, like.options().dtype(at::kByte));
}

at::Tensor bf16(const at::Tensor& t) { return t.to(at::kBFloat16).contiguous(); }
at::Tensor f32(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat).contiguous() : t; }

// dL/do may be undefined (only the state was used) or strided.
at::Tensor grad_or_zeros(const at::Tensor& g, const at::Tensor& like) {
  return g.defined() ? g.to(like.scalar_type()).contiguous() : at::zeros_like(like);
}

// The gradients of the reference form on the saved inputs (kernels without a backward).
variable_list reference_grads(const std::function<Recurrence(const variable_list&)>& forward,
                              const variable_list& inputs, const at::Tensor& d_o,
                              const at::Tensor& dht) {
  at::AutoGradMode enable(true);
  variable_list leaves, wanted;
  for (const auto& t : inputs)
    leaves.push_back(present(t) ? t.detach().to(at::kFloat).requires_grad_(true) : at::Tensor());
  auto r = forward(leaves);
  at::Tensor loss = (r.o * d_o.to(r.o.scalar_type())).sum();
  if (dht.defined()) loss = loss + (r.state * dht).sum();
  for (const auto& t : leaves)
    if (t.defined()) wanted.push_back(t);
  auto grads = torch::autograd::grad({loss}, wanted, {}, c10::nullopt, false, /*allow_unused=*/true);
  variable_list out;
  size_t i = 0;
  for (size_t n = 0; n < leaves.size(); ++n) {
    at::Tensor gi = leaves[n].defined() ? grads[i++] : at::Tensor();
    out.push_back(gi.defined() ? gi.to(inputs[n].scalar_type()) : at::Tensor());
  }
  return out;
}

constexpr int kNotSupported = static_cast<int>(cudaErrorNotSupported);

// ---- GLA ---------------------------------------------------------------------------------------
struct GlaFunction : torch::autograd::Function<GlaFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v, const at::Tensor& g, const at::Tensor& h0,
                               double scale) {
    const int B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3);
    const int Hk = k.size(2), V = v.size(3);
    auto o = at::empty({B, T, H, V}, q.options());
    auto ht = at::empty({B, Hk, K, V}, g.options());
    auto saved = bytes(gla_fwd_saved_bytes(B, T, H, Hk, K, V), q);
    check(gla_fwd(ptr(q), ptr(k), ptr(v), ptr<float>(g), ptr<float>(h0), static_cast<float>(scale),
                  B, T, H, Hk, K, V, ptr(o), ptr<float>(ht), ptr(saved), stream()),
          "gla_fwd");
    ctx->save_for_backward({q, k, v, g, h0});
    ctx->saved_data["saved"] = saved;
    ctx->saved_data["scale"] = scale;
    return {o, ht};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto in = ctx->get_saved_variables();
    const auto &q = in[0], &k = in[1], &v = in[2], &g = in[3], &h0 = in[4];
    const double scale = ctx->saved_data["scale"].toDouble();
    auto saved = ctx->saved_data["saved"].toTensor();
    const int B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3);
    const int Hk = k.size(2), V = v.size(3);
    auto d_o = grad_or_zeros(grads[0], q.new_empty({B, T, H, V}));
    auto dht = f32(grads[1]);
    auto dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
    auto dg = at::empty_like(g);
    auto dh0 = present(h0) ? at::empty_like(h0) : at::Tensor();
    auto work = bytes(gla_bwd_workspace_bytes(B, T, H, Hk, K, V), q);
    int rc = gla_bwd(ptr(q), ptr(k), ptr(v), ptr<float>(g), ptr<float>(h0), ptr(saved), ptr(d_o),
                     ptr<float>(dht), static_cast<float>(scale), B, T, H, Hk, K, V, ptr(dq),
                     ptr(dk), ptr(dv), ptr<float>(dg), ptr<float>(dh0), ptr(work), stream());
    if (rc == kNotSupported) {
      cudaGetLastError();  // clear it
      auto r = reference_grads(
          [&](const variable_list& x) { return gla_chunk_reference(x[0], x[1], x[2], x[3], scale, x[4], 64); },
          {q, k, v, g, h0}, d_o, dht);
      return {r[0], r[1], r[2], r[3], r[4], at::Tensor()};
    }
    check(rc, "gla_bwd");
    return {dq, dk, dv, dg, dh0, at::Tensor()};
  }
};

// ---- Gated delta rule --------------------------------------------------------------------------
struct GatedDeltaFunction : torch::autograd::Function<GatedDeltaFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v, const at::Tensor& g, const at::Tensor& beta,
                               const at::Tensor& h0, double scale) {
    const int B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
    auto o = at::empty({B, T, H, V}, q.options());
    auto ht = at::empty({B, H, K, V}, g.options());
    auto saved = bytes(gated_delta_fwd_saved_bytes(B, T, H, K, V), q);
    check(gated_delta_fwd(ptr(q), ptr(k), ptr(v), ptr<float>(g), ptr<float>(beta),
                          ptr<float>(h0), static_cast<float>(scale), B, T, H, K, V, ptr(o),
                          ptr<float>(ht), ptr(saved), stream()),
          "gated_delta_fwd");
    ctx->save_for_backward({q, k, v, g, beta, h0});
    ctx->saved_data["saved"] = saved;
    ctx->saved_data["scale"] = scale;
    return {o, ht};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto in = ctx->get_saved_variables();
    const auto &q = in[0], &k = in[1], &v = in[2], &g = in[3], &beta = in[4], &h0 = in[5];
    const double scale = ctx->saved_data["scale"].toDouble();
    auto saved = ctx->saved_data["saved"].toTensor();
    const int B = q.size(0), T = q.size(1), H = q.size(2), K = q.size(3), V = v.size(3);
    auto d_o = grad_or_zeros(grads[0], q.new_empty({B, T, H, V}));
    auto dht = f32(grads[1]);
    auto dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
    auto dg = at::empty_like(g), dbeta = at::empty_like(beta);
    auto dh0 = present(h0) ? at::empty_like(h0) : at::Tensor();
    auto work = bytes(gated_delta_bwd_workspace_bytes(B, T, H, K, V), q);
    int rc = gated_delta_bwd(ptr(q), ptr(k), ptr(v), ptr<float>(g), ptr<float>(beta),
                             ptr<float>(h0), ptr(saved), ptr(d_o), ptr<float>(dht),
                             static_cast<float>(scale), B, T, H, K, V, ptr(dq), ptr(dk), ptr(dv),
                             ptr<float>(dg), ptr<float>(dbeta), ptr<float>(dh0), ptr(work),
                             stream());
    if (rc == kNotSupported) {
      cudaGetLastError();
      auto r = reference_grads(
          [&](const variable_list& x) {
            return gated_delta_chunk_reference(x[0], x[1], x[2], x[3], x[4], scale, x[5], 64);
          },
          {q, k, v, g, beta, h0}, d_o, dht);
      return {r[0], r[1], r[2], r[3], r[4], r[5], at::Tensor()};
    }
    check(rc, "gated_delta_bwd");
    return {dq, dk, dv, dg, dbeta, dh0, at::Tensor()};
  }
};

}  // namespace

bool gla_supported(int64_t K, int64_t V) { return gla_fused_supported(K, V); }

Recurrence gla_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                     const at::Tensor& gk, double scale, const at::Tensor& h0) {
  auto r = GlaFunction::apply(bf16(q), bf16(k), bf16(v), f32(gk), state_or_empty(h0, gk), scale);
  return {r[0].to(at::kFloat), r[1]};
}

bool gated_delta_supported(int64_t K, int64_t V) { return gated_delta_fused_supported(K, V); }

Recurrence gated_delta_chunk(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const at::Tensor& g, const at::Tensor& beta, double scale,
                             const at::Tensor& h0) {
  auto r = GatedDeltaFunction::apply(bf16(q), bf16(k), bf16(v), f32(g), f32(beta),
                                     state_or_empty(h0, g), scale);
  return {r[0].to(at::kFloat), r[1]};
}

}  // namespace hyb::ops::cuda
