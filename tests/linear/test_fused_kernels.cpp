// linear/ops/cuda: the fused CUDA kernels, reached as the modules reach them (ops::gla_chunk and
// ops::gated_delta_chunk with bf16 CUDA activations), against
//   - the fp64 token-by-token recurrence on the CPU (ops::*_naive), on the same bf16-rounded
//     inputs: outputs, final state and every input gradient (autograd through the loop);
//   - the fp32 LibTorch chunked form on the GPU (ops::*_chunk_reference).
// Skipped without a CUDA device (CI); scripts/gpu.sh runs them on the GPU machine.
//
// Error measure: ||a - ref|| / ||ref|| over the whole tensor. Bound 1.5e-2 for bf16 (stated in
// BENCHMARKS.md with the measured values): the output itself is rounded to bf16 (2^-9 relative,
// about 1.1e-3 in this norm for random data), and the kernels feed the tensor cores bf16 operands
// for the in-chunk attention matrix, the chunk states and the decayed keys, each adding a rounding
// of the same order; the fp32 LibTorch form of the same math lands near 1e-6. Measured on an H200
// (BENCHMARKS.md): at most 3.6e-3 for GLA and 6.6e-3 for the gated delta rule (its dg).
#include <torch/torch.h>

#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"
#include "linear_test_util.h"
#include "util/error.h"

namespace hyb::test {
namespace {

constexpr double kBound = 1.5e-2;

// Relative, or absolute where the reference is exactly zero (e.g. dg at T = 1 with no state:
// the decay multiplies a zero state, so its true gradient is 0 and ours is rounding noise).
double norm_err(const at::Tensor& a, const at::Tensor& ref) {
  auto r = ref.to(at::kDouble).cpu();
  const double diff = (a.to(at::kDouble).cpu() - r).norm().item<double>(), n = r.norm().item<double>();
  return n > 0 ? diff / n : diff;
}

struct Case {
  int64_t B, T, H, Hk, D;
  bool h0, grads;
};

std::vector<Case> cases(bool grouped) {
  std::vector<Case> out;
  for (int64_t T : {1, 63, 64, 65, 1000})
    for (bool h0 : {false, true}) out.push_back({2, T, 4, 4, 128, h0, true});
  if (grouped)
    for (int64_t T : {65, 1000}) out.push_back({1, T, 6, 1, 128, true, true});  // G = 6
  out.push_back({2, 200, 4, grouped ? 2 : 4, 64, true, true});                  // head dim 64
  out.push_back({1, 4096, 2, grouped ? 1 : 2, 128, false, true});
  out.push_back({1, 4096, 2, grouped ? 1 : 2, 128, true, false});
  return out;
}

// Runs `fused` (bf16 on CUDA) and `naive` (fp64 on the CPU) on the same inputs with the same
// upstream gradients, and compares outputs, final states and the gradients of every input.
template <typename Fused, typename Naive>
void compare(const Case& c, std::vector<at::Tensor> inputs, const Fused& fused, const Naive& naive,
             const std::vector<std::string>& names, const std::string& what) {
  auto gen = generator(99);
  // bf16-round the activations (q, k, v: the first three) so that both sides see equal values
  // and fp32-round the rest (gates, betas, states), as the GPU side receives them
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined())
      inputs[i] = inputs[i].to(i < 3 ? at::kBFloat16 : at::kFloat).to(at::kDouble);
  std::vector<at::Tensor> gpu, cpu;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& t = inputs[i];
    if (!t.defined()) {
      gpu.push_back(t), cpu.push_back(t);
      continue;
    }
    gpu.push_back(t.to(at::kCUDA, i < 3 ? at::kBFloat16 : at::kFloat).detach().requires_grad_(c.grads));
    cpu.push_back(t.detach().clone().requires_grad_(c.grads));
  }
  ops::Recurrence got = fused(gpu), want = naive(cpu);
  const double e_o = norm_err(got.o, want.o), e_s = norm_err(got.state, want.state);
  std::printf("[ info ] %s B%ld T%ld H%ld Hk%ld D%ld h0=%d: o %.2e state %.2e", what.c_str(), c.B, c.T,
              c.H, c.Hk, c.D, c.h0, e_o, e_s);
  EXPECT_LE(e_o, kBound) << what << " o, T=" << c.T;
  EXPECT_LE(e_s, kBound) << what << " state, T=" << c.T;
  if (c.grads) {
    auto d_o = randn(want.o.sizes(), gen, at::kDouble).to(at::kBFloat16).to(at::kDouble);
    auto d_s = randn(want.state.sizes(), gen, at::kDouble);
    auto loss_cpu = (want.o * d_o).sum() + (c.h0 ? (want.state * d_s).sum() : at::zeros({}, at::kDouble));
    auto loss_gpu = (got.o * d_o.to(at::kCUDA, at::kFloat)).sum() +
                    (c.h0 ? (got.state * d_s.to(at::kCUDA, at::kFloat)).sum() : at::zeros({}, got.o.options()));
    loss_cpu.backward();
    loss_gpu.backward();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) continue;
      const double e = norm_err(gpu[i].grad(), cpu[i].grad());
      std::printf(" d%s %.2e", names[i].c_str(), e);
      EXPECT_LE(e, kBound) << what << " d" << names[i] << ", T=" << c.T;
    }
  }
  std::printf("\n");
}

TEST(CudaFusedKernels, GlaMatchesFp64Recurrence) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(ops::fused_kernels_built());
  int seed = 0;
  for (const auto& c : cases(/*grouped=*/true)) {
    auto gen = generator(100 + seed++);
    std::vector<at::Tensor> in = {
        randn({c.B, c.T, c.H, c.D}, gen, at::kDouble), randn({c.B, c.T, c.Hk, c.D}, gen, at::kDouble),
        randn({c.B, c.T, c.Hk, c.D}, gen, at::kDouble),
        // the module's gates, logsigmoid(x) / 16, with x spread wide (gates from ~0 to ~-1)
        at::log_sigmoid(randn({c.B, c.T, c.Hk, c.D}, gen, at::kDouble) * 4.0) / 16.0,
        c.h0 ? randn({c.B, c.Hk, c.D, c.D}, gen, at::kDouble) : at::Tensor()};
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    compare(
        c, in, [&](auto& x) { return ops::gla_chunk(x[0], x[1], x[2], x[3], scale, x[4], 64); },
        [&](auto& x) { return ops::gla_naive(x[0], x[1], x[2], x[3], scale, x[4]); },
        {"q", "k", "v", "g", "h0"}, "gla");
  }
}

TEST(CudaFusedKernels, GatedDeltaMatchesFp64Recurrence) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_TRUE(ops::fused_kernels_built());
  int seed = 0;
  auto unit = [](const at::Tensor& x) { return x / x.norm(2, -1, true); };
  for (const auto& c : cases(/*grouped=*/false)) {
    auto gen = generator(200 + seed++);
    std::vector<at::Tensor> in = {
        unit(randn({c.B, c.T, c.H, c.D}, gen, at::kDouble)), unit(randn({c.B, c.T, c.H, c.D}, gen, at::kDouble)),
        randn({c.B, c.T, c.H, c.D}, gen, at::kDouble),
        -at::softplus(randn({c.B, c.T, c.H}, gen, at::kDouble) * 2.0 - 2.0),  // decays in (0, 1)
        at::sigmoid(randn({c.B, c.T, c.H}, gen, at::kDouble)),
        c.h0 ? randn({c.B, c.H, c.D, c.D}, gen, at::kDouble) : at::Tensor()};
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    compare(
        c, in,
        [&](auto& x) { return ops::gated_delta_chunk(x[0], x[1], x[2], x[3], x[4], scale, x[5], 64); },
        [&](auto& x) { return ops::gated_delta_naive(x[0], x[1], x[2], x[3], x[4], scale, x[5]); },
        {"q", "k", "v", "g", "beta", "h0"}, "gated_delta");
  }
}

// The fused kernels against the fp32 LibTorch chunked form on the same GPU, and --kernels
// reference really switching to it (bit for bit the reference form's result).
TEST(CudaFusedKernels, AgreeWithReferenceFormAndSwitchOff) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard ng;
  auto gen = generator(7);
  const int64_t B = 2, T = 300, H = 4, D = 128;
  auto dev = [](const at::Tensor& t, at::ScalarType s) { return t.to(at::kCUDA, s); };
  auto q = dev(randn({B, T, H, D}, gen), at::kBFloat16), k = dev(randn({B, T, H, D}, gen), at::kBFloat16);
  auto v = dev(randn({B, T, H, D}, gen), at::kBFloat16);
  auto g = dev(at::log_sigmoid(randn({B, T, H, D}, gen)) / 16.0, at::kFloat);
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  auto fused = ops::gla_chunk(q, k, v, g, scale, at::Tensor(), 64);
  auto ref = ops::gla_chunk_reference(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), g, scale, at::Tensor(), 64);
  const double e = norm_err(fused.o, ref.o);
  std::printf("[ info ] gla fused vs fp32 reference form: o %.2e state %.2e\n", e, norm_err(fused.state, ref.state));
  EXPECT_LE(e, kBound);
  EXPECT_FALSE(at::equal(fused.o, ops::gla_chunk_reference(q, k, v, g, scale, at::Tensor(), 64).o));
  ops::set_kernels(ops::Kernels::kReference);
  auto switched = ops::gla_chunk(q, k, v, g, scale, at::Tensor(), 64);
  ops::set_kernels(ops::Kernels::kFused);
  EXPECT_TRUE(at::equal(switched.o, ops::gla_chunk_reference(q, k, v, g, scale, at::Tensor(), 64).o));
}

// The fused decoding step (ops/cuda/step_kernels) of each module against the module's LibTorch
// step on the same GPU: one module, two copies of one random cache, eight tokens, each token's
// output and the caches compared after every step. fp32 within 1e-5 (the same math, other order of
// summation); bf16 within 1e-2: the LibTorch step rounds after every op of the convolutions and
// gates in bf16 where the kernel keeps fp32 (measured values printed, recorded in BENCHMARKS.md).
TEST(CudaFusedStep, MatchesLibTorchStep) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::NoGradGuard ng;
  for (const std::string kind : {"gla", "gdn", "jet"})
    for (int64_t d : {64, 128})
      for (auto dtype : {at::kFloat, at::kBFloat16}) {
        LinearSettings s;
        s.kind = kind, s.hidden_size = 256, s.num_heads = 6, s.num_kv_heads = 2, s.head_dim = d;
        auto m = perturbed_module(s, 5, dtype, 0.05);
        for (auto& [name, p] : m->parameters()) *p = p->to(at::kCUDA);
        auto host = random_cache(*m, 3, dtype, 9);
        std::unique_ptr<MixerCache> caches[2];
        for (auto& c : caches) {
          c = m->make_cache(3, 0, dtype, at::kCUDA);
          as_linear(*c).state.copy_(as_linear(*host).state);
          for (size_t i = 0; i < as_linear(*c).conv.size(); ++i) as_linear(*c).conv[i].copy_(as_linear(*host).conv[i]);
        }
        auto gen = generator(17);
        const double bound = dtype == at::kFloat ? 1e-5 : 1e-2;
        double worst_y = 0, worst_state = 0;
        for (int step = 0; step < 8; ++step) {
          auto x = randn({3, 1, 256}, gen).to(at::kCUDA, dtype);
          ops::set_kernels(ops::Kernels::kReference);
          auto ref = m->forward(x, caches[0].get(), LinearForm::kStep);
          ops::set_kernels(ops::Kernels::kFused);
          auto got = m->forward(x, caches[1].get(), LinearForm::kStep);
          worst_y = std::max(worst_y, norm_err(got, ref));
          worst_state = std::max(worst_state, norm_err(as_linear(*caches[1]).state, as_linear(*caches[0]).state));
          for (size_t i = 0; i < as_linear(*caches[0]).conv.size(); ++i)  // the token's inputs, as stored
            EXPECT_LE(norm_err(as_linear(*caches[1]).conv[i], as_linear(*caches[0]).conv[i]), bound) << kind;
        }
        std::printf("[ info ] fused step %s d=%lld %s: y %.2e state %.2e\n", kind.c_str(),
                    static_cast<long long>(d), dtype == at::kFloat ? "fp32" : "bf16", worst_y, worst_state);
        EXPECT_LE(worst_y, bound) << kind << " d=" << d;
        EXPECT_LE(worst_state, bound) << kind << " d=" << d;
      }
}

// Everywhere the kernels do not apply (CPU tensors, fp32 or fp64 activations) the dispatching forms
// are the LibTorch forms, bit for bit; and --kernels takes only its two values. Runs in CI.
TEST(KernelDispatch, ReferenceFormWhereKernelsDoNotApply) {
  auto gen = generator(11);
  auto q = randn({2, 70, 4, 16}, gen), k = randn({2, 70, 2, 16}, gen), v = randn({2, 70, 2, 16}, gen);
  auto g = at::log_sigmoid(randn({2, 70, 2, 16}, gen)) / 16.0;
  auto a = ops::gla_chunk(q, k, v, g, 0.25, at::Tensor(), 64);
  auto b = ops::gla_chunk_reference(q, k, v, g, 0.25, at::Tensor(), 64);
  EXPECT_TRUE(at::equal(a.o, b.o));
  EXPECT_TRUE(at::equal(a.state, b.state));
  auto qd = q.narrow(2, 0, 2), kd = k / k.norm(2, -1, true), beta = at::sigmoid(randn({2, 70, 2}, gen));
  auto gd = -at::softplus(randn({2, 70, 2}, gen));
  auto c = ops::gated_delta_chunk(qd, kd, v, gd, beta, 0.25, at::Tensor(), 64);
  auto d = ops::gated_delta_chunk_reference(qd, kd, v, gd, beta, 0.25, at::Tensor(), 64);
  EXPECT_TRUE(at::equal(c.o, d.o));
  EXPECT_FALSE(ops::fused_step_applies(q, 16));  // CPU: the modules take their LibTorch step
  EXPECT_EQ(ops::parse_kernels("fused"), ops::Kernels::kFused);
  EXPECT_EQ(ops::parse_kernels("reference"), ops::Kernels::kReference);
  try {
    ops::parse_kernels("triton");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--kernels: expected 'fused' or 'reference', got 'triton'");
  }
}

}  // namespace
}  // namespace hyb::test
