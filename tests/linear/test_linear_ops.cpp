// linear/ops: the chunked forms and the decoding steps against the naive recurrences, on raw
// tensors (GQA grouping, padding, sub-chunks, extreme gates, gradients, initial states).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "linear/ops/ops.h"
#include "linear_test_util.h"

namespace hyb::test {
namespace {

struct Inputs {
  at::Tensor q, k, v, g, beta, h0;
};

// GLA inputs: q [B,T,H,K], k/gk [B,T,Hk,K], v [B,T,Hk,V]; gate logits scaled by gate_spread.
Inputs gla_inputs(int64_t B, int64_t T, int64_t H, int64_t Hk, int64_t K, int64_t V,
                  bool state, double gate_spread, uint64_t seed) {
  auto gen = generator(seed);
  Inputs in;
  in.q = randn({B, T, H, K}, gen, at::kDouble);
  in.k = randn({B, T, Hk, K}, gen, at::kDouble);
  in.v = randn({B, T, Hk, V}, gen, at::kDouble);
  in.g = at::log_sigmoid(randn({B, T, Hk, K}, gen, at::kDouble) * gate_spread + 2.0) / 16.0;
  if (state) in.h0 = randn({B, Hk, K, V}, gen, at::kDouble);
  return in;
}

// Gated-delta inputs: unit q, k; decays in (0, 1]; beta in (0, 1).
Inputs delta_inputs(int64_t B, int64_t T, int64_t H, int64_t K, int64_t V, bool state,
                    double gate_spread, uint64_t seed) {
  auto gen = generator(seed);
  Inputs in;
  auto unit = [](const at::Tensor& x) { return x / x.norm(2, -1, true); };
  in.q = unit(randn({B, T, H, K}, gen, at::kDouble));
  in.k = unit(randn({B, T, H, K}, gen, at::kDouble));
  in.v = randn({B, T, H, V}, gen, at::kDouble);
  in.g = -at::softplus(randn({B, T, H}, gen, at::kDouble) * gate_spread - 2.0);
  in.beta = at::sigmoid(randn({B, T, H}, gen, at::kDouble));
  if (state) in.h0 = randn({B, H, K, V}, gen, at::kDouble);
  return in;
}

at::Tensor f32(const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; }

// Runs the step op token by token.
template <typename Step>
ops::Recurrence step_all(int64_t T, at::Tensor S, Step step) {
  std::vector<at::Tensor> out;
  for (int64_t t = 0; t < T; ++t) {
    auto r = step(t, S);
    out.push_back(r.o);
    S = r.state;
  }
  return {at::cat(out, 1), S};
}

const int64_t kLengths[] = {1, 15, 63, 64, 65, 200};

TEST(LinearOps, GlaChunkAndStepMatchNaive) {
  double worst32 = 0, worst_step = 0, worst64 = 0;
  for (int64_t B : {1, 3})
    for (int64_t T : kLengths)
      for (bool state : {false, true}) {
        auto in = gla_inputs(B, T, 4, 2, 8, 6, state, 3.0, 100 * T + B + state);
        const double scale = 1.0 / std::sqrt(8.0);
        auto ref = ops::gla_naive(in.q, in.k, in.v, in.g, scale, in.h0);
        auto c64 = ops::gla_chunk(in.q, in.k, in.v, in.g, scale, in.h0, 64);
        auto c32 =
            ops::gla_chunk(f32(in.q), f32(in.k), f32(in.v), f32(in.g), scale, f32(in.h0), 64);
        auto st = step_all(T, f32(in.h0), [&](int64_t t, const at::Tensor& S) {
          auto sl = [&](const at::Tensor& x) { return f32(x.narrow(1, t, 1)); };
          return ops::gla_step(sl(in.q), sl(in.k), sl(in.v), sl(in.g), scale, S);
        });
        ASSERT_EQ(c32.o.scalar_type(), at::kFloat);
        worst64 = std::max({worst64, rel_err(c64.o, ref.o), rel_err(c64.state, ref.state)});
        worst32 = std::max({worst32, rel_err(c32.o, ref.o), rel_err(c32.state, ref.state)});
        worst_step = std::max({worst_step, rel_err(st.o, ref.o), rel_err(st.state, ref.state)});
      }
  std::printf("gla ops: fp64 chunk %.2e, fp32 chunk %.2e, fp32 step %.2e\n", worst64, worst32,
              worst_step);
  EXPECT_LT(worst64, 1e-12);
  EXPECT_LT(worst32, 1e-5);
  EXPECT_LT(worst_step, 1e-5);
}

// Forget gates down to exp(-15) per token: within a chunk the cumulative log decay reaches about
// -1000, far past fp32's exp range; the chunked form must stay finite and exact.
TEST(LinearOps, GlaChunkSurvivesExtremeGates) {
  auto in = gla_inputs(2, 200, 4, 2, 8, 8, true, 60.0, 7);
  in.g = in.g.clamp_min(-15.0);
  ASSERT_LT(in.g.min().item<double>(), -10.0);
  auto ref = ops::gla_naive(in.q, in.k, in.v, in.g, 0.35, in.h0);
  auto c32 = ops::gla_chunk(f32(in.q), f32(in.k), f32(in.v), f32(in.g), 0.35, f32(in.h0), 64);
  ASSERT_TRUE(at::isfinite(c32.o).all().item<bool>());
  EXPECT_LT(rel_err(c32.o, ref.o), 1e-5);
  EXPECT_LT(rel_err(c32.state, ref.state), 1e-5);
}

TEST(LinearOps, GatedDeltaChunkAndStepMatchNaive) {
  double worst32 = 0, worst_step = 0, worst64 = 0;
  for (int64_t B : {1, 3})
    for (int64_t T : kLengths)
      for (bool state : {false, true}) {
        auto in = delta_inputs(B, T, 3, 8, 6, state, 2.0, 100 * T + B + state);
        const double scale = 1.0 / std::sqrt(8.0);
        auto ref = ops::gated_delta_naive(in.q, in.k, in.v, in.g, in.beta, scale, in.h0);
        auto c64 = ops::gated_delta_chunk(in.q, in.k, in.v, in.g, in.beta, scale, in.h0, 64);
        auto c32 = ops::gated_delta_chunk(f32(in.q), f32(in.k), f32(in.v), f32(in.g),
                                          f32(in.beta), scale, f32(in.h0), 64);
        auto st = step_all(T, f32(in.h0), [&](int64_t t, const at::Tensor& S) {
          auto sl = [&](const at::Tensor& x) { return f32(x.narrow(1, t, 1)); };
          return ops::gated_delta_step(sl(in.q), sl(in.k), sl(in.v), sl(in.g), sl(in.beta),
                                       scale, S);
        });
        worst64 = std::max({worst64, rel_err(c64.o, ref.o), rel_err(c64.state, ref.state)});
        worst32 = std::max({worst32, rel_err(c32.o, ref.o), rel_err(c32.state, ref.state)});
        worst_step = std::max({worst_step, rel_err(st.o, ref.o), rel_err(st.state, ref.state)});
      }
  std::printf("gated delta ops: fp64 chunk %.2e, fp32 chunk %.2e, fp32 step %.2e\n", worst64,
              worst32, worst_step);
  EXPECT_LT(worst64, 1e-12);
  EXPECT_LT(worst32, 1e-5);
  EXPECT_LT(worst_step, 1e-5);
}

// Decays down to exp(-60) per token: cumulative log decays of thousands within a chunk.
TEST(LinearOps, GatedDeltaChunkSurvivesExtremeGates) {
  auto in = delta_inputs(2, 150, 3, 8, 8, true, 30.0, 12);
  in.g = in.g.clamp_min(-60.0);
  ASSERT_LT(in.g.min().item<double>(), -40.0);
  auto ref = ops::gated_delta_naive(in.q, in.k, in.v, in.g, in.beta, 0.35, in.h0);
  auto c32 = ops::gated_delta_chunk(f32(in.q), f32(in.k), f32(in.v), f32(in.g), f32(in.beta),
                                    0.35, f32(in.h0), 64);
  ASSERT_TRUE(at::isfinite(c32.o).all().item<bool>());
  EXPECT_LT(rel_err(c32.o, ref.o), 1e-5);
  EXPECT_LT(rel_err(c32.state, ref.state), 1e-5);
}

// No decay and beta = 1 on repeated keys: the hardest case for the triangular solve.
TEST(LinearOps, GatedDeltaChunkSurvivesDegenerateKeys) {
  auto in = delta_inputs(1, 130, 2, 8, 8, true, 1.0, 11);
  in.k = in.k.narrow(1, 0, 1).expand_as(in.k).contiguous();
  in.g = at::zeros_like(in.g);
  in.beta = at::ones_like(in.beta);
  auto ref = ops::gated_delta_naive(in.q, in.k, in.v, in.g, in.beta, 0.35, in.h0);
  auto c32 = ops::gated_delta_chunk(f32(in.q), f32(in.k), f32(in.v), f32(in.g), f32(in.beta),
                                    0.35, f32(in.h0), 64);
  EXPECT_LT(rel_err(c32.o, ref.o), 1e-5);
  EXPECT_LT(rel_err(c32.state, ref.state), 1e-5);
}

// d/d(every input) of a random projection of (o, final state): chunked autograd == naive
// autograd in fp64. Chunk 32 with T 75: three chunks, four sub-chunks each (GLA), padding.
template <typename Fn>
void expect_same_grads(std::vector<at::Tensor> inputs, Fn naive, Fn chunk) {
  auto gen = generator(5);
  auto loss_grads = [&](Fn f) {
    std::vector<at::Tensor> leaves;
    for (auto& t : inputs) leaves.push_back(t.detach().clone().set_requires_grad(true));
    auto r = f(leaves);
    auto gen2 = generator(9);
    auto loss = (r.o * randn(r.o.sizes(), gen2, at::kDouble)).sum() +
                (r.state * randn(r.state.sizes(), gen2, at::kDouble)).sum();
    loss.backward();
    std::vector<at::Tensor> g;
    for (auto& l : leaves) g.push_back(l.grad());
    return g;
  };
  auto gn = loss_grads(naive), gc = loss_grads(chunk);
  for (size_t i = 0; i < gn.size(); ++i) {
    ASSERT_TRUE(gn[i].defined() && gc[i].defined()) << "input " << i;
    EXPECT_LT(rel_err(gc[i], gn[i]), 1e-10) << "input " << i;
  }
  (void)gen;
}

TEST(LinearOps, GlaChunkGradientsMatchNaive) {
  auto in = gla_inputs(2, 75, 4, 2, 4, 3, true, 3.0, 21);
  using Fn = std::function<ops::Recurrence(const std::vector<at::Tensor>&)>;
  Fn naive = [](const std::vector<at::Tensor>& x) {
    return ops::gla_naive(x[0], x[1], x[2], x[3], 0.5, x[4]);
  };
  Fn chunk = [](const std::vector<at::Tensor>& x) {
    return ops::gla_chunk(x[0], x[1], x[2], x[3], 0.5, x[4], 32);
  };
  expect_same_grads({in.q, in.k, in.v, in.g, in.h0}, naive, chunk);
}

TEST(LinearOps, GatedDeltaChunkGradientsMatchNaive) {
  auto in = delta_inputs(2, 75, 3, 4, 3, true, 2.0, 22);
  using Fn = std::function<ops::Recurrence(const std::vector<at::Tensor>&)>;
  Fn naive = [](const std::vector<at::Tensor>& x) {
    return ops::gated_delta_naive(x[0], x[1], x[2], x[3], x[4], 0.5, x[5]);
  };
  Fn chunk = [](const std::vector<at::Tensor>& x) {
    return ops::gated_delta_chunk(x[0], x[1], x[2], x[3], x[4], 0.5, x[5], 32);
  };
  expect_same_grads({in.q, in.k, in.v, in.g, in.beta, in.h0}, naive, chunk);
}

// Static and dynamic convolution, fast vs naive, in one call and split with the cache between.
TEST(LinearOps, CausalConvFastMatchesNaiveAndSplits) {
  auto gen = generator(3);
  for (bool dynamic : {false, true})
    for (int64_t W : {1, 2, 4}) {
      const int64_t B = 2, T = 9, C = 5;
      auto x = randn({B, T, C}, gen, at::kDouble);
      auto taps = dynamic ? randn({B, T, C, W}, gen, at::kDouble) : randn({C, W}, gen, at::kDouble);
      auto past = randn({B, W - 1, C}, gen, at::kDouble);
      for (const auto& cache : {at::Tensor(), past}) {
        auto fast = ops::causal_conv(x, taps, cache);
        auto naive = ops::causal_conv_naive(x, taps, cache);
        EXPECT_LT(rel_err(fast.y, naive.y), 1e-14);
        EXPECT_TRUE(at::equal(fast.cache, naive.cache));
        // Split after 2 tokens (fewer than W-1 when W = 4): the cache carries the history.
        auto tap_part = [&](int64_t s, int64_t n) { return dynamic ? taps.narrow(1, s, n) : taps; };
        auto a = ops::causal_conv(x.narrow(1, 0, 2), tap_part(0, 2), cache);
        auto b = ops::causal_conv(x.narrow(1, 2, T - 2), tap_part(2, T - 2), a.cache);
        EXPECT_LT(rel_err(at::cat({a.y, b.y}, 1), fast.y), 1e-14);
        EXPECT_TRUE(at::equal(b.cache, fast.cache));
      }
      // y_t = sum_w x_{t-W+1+w} taps[w]: check one entry by hand (no cache: zeros before t=0).
      auto y = ops::causal_conv(x, taps, at::Tensor()).y;
      const int64_t t = 5, c = 3;
      double want = 0;
      for (int64_t w = 0; w < W; ++w) {
        double tw = dynamic ? taps[1][t][c][w].item<double>() : taps[c][w].item<double>();
        want += x[1][t - W + 1 + w][c].item<double>() * tw;
      }
      EXPECT_NEAR(y[1][t][c].item<double>(), want, 1e-12);
    }
}

}  // namespace
}  // namespace hyb::test
