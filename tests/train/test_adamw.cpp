// Our AdamW and gradient clipping against LibTorch's own (torch::optim::AdamW,
// torch::nn::utils::clip_grad_norm_) on the same gradients: same parameters after several steps.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "train/adamw.h"

namespace hyb {
namespace {

TEST(AdamW, MatchesTorchOptimAdamW) {
  torch::manual_seed(0);
  auto a = torch::randn({4, 3}).set_requires_grad(true), b = torch::randn({3}).set_requires_grad(true);
  auto ta = a.detach().clone().set_requires_grad(true), tb = b.detach().clone().set_requires_grad(true);
  AdamWOptions o;
  o.weight_decay = 0.1;
  AdamW ours({a, b}, {true, false}, o);
  // torch applies decay per group: the matrix in a group with decay, the vector in one without.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{ta}, std::make_unique<torch::optim::AdamWOptions>(
      torch::optim::AdamWOptions(1e-2).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(0.1)));
  groups.emplace_back(std::vector<torch::Tensor>{tb}, std::make_unique<torch::optim::AdamWOptions>(
      torch::optim::AdamWOptions(1e-2).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(0.0)));
  torch::optim::AdamW theirs(groups, torch::optim::AdamWOptions(1e-2));
  for (int step = 0; step < 5; ++step) {
    auto x = torch::randn({3});
    auto loss = [&](const torch::Tensor& m, const torch::Tensor& v) { return (m.matmul(x + v)).pow(2).sum(); };
    loss(a, b).backward();
    loss(ta, tb).backward();
    // The same clip on both sides (max norm 0.5, below the gradients' norm).
    auto n1 = clip_grad_norm({a, b}, 0.5);
    auto n2 = torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{ta, tb}, 0.5);
    EXPECT_NEAR(n1.item<double>(), n2, 1e-4 * n2);
    ours.step(1e-2);
    ours.zero_grad();
    theirs.step();
    theirs.zero_grad();
  }
  EXPECT_EQ(ours.steps(), 5);
  EXPECT_TRUE(torch::allclose(a, ta, 1e-5, 1e-6)) << a - ta;
  EXPECT_TRUE(torch::allclose(b, tb, 1e-5, 1e-6)) << b - tb;
}

}  // namespace
}  // namespace hyb
