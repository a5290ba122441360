#include "train/adamw.h"

#include <ATen/ATen.h>

#include <cmath>

namespace hyb {

AdamW::AdamW(std::vector<at::Tensor> params, std::vector<bool> decay, AdamWOptions opt)
    : p_(std::move(params)), decay_(std::move(decay)), opt_(opt) {
  TORCH_CHECK(p_.size() == decay_.size(), "AdamW: one decay flag per parameter");
  for (const auto& p : p_) {
    TORCH_CHECK(p.scalar_type() == at::kFloat, "AdamW keeps fp32 masters");
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void AdamW::step(double lr) {
  advance(lr);
  apply();
}

void AdamW::advance(double lr) {
  ++t_;
  const double bc1 = 1 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1 - std::pow(opt_.beta2, static_cast<double>(t_));
  if (p_.empty()) return;
  if (!scalars_.defined()) scalars_ = at::empty({3}, p_[0].options().requires_grad(false));
  // Written by fills (the value travels as a kernel argument: no copy, no host sync).
  at::NoGradGuard ng;
  scalars_[0].fill_(-lr / bc1);
  scalars_[1].fill_(std::sqrt(bc2));
  scalars_[2].fill_(1 - lr * opt_.weight_decay);
}

void AdamW::apply() {
  at::NoGradGuard ng;
  const double b1 = opt_.beta1, b2 = opt_.beta2;
  const at::Tensor neg_step = scalars_[0], sqrt_bc2 = scalars_[1], decay = scalars_[2];
  for (size_t i = 0; i < p_.size(); ++i) {
    const at::Tensor& g = p_[i].grad();
    if (!g.defined()) continue;
    at::Tensor& p = p_[i];
    m_[i].mul_(b1).add_(g, 1 - b1);
    v_[i].mul_(b2).addcmul_(g, g, 1 - b2);
    if (decay_[i] && opt_.weight_decay != 0) p.mul_(decay);
    // sqrt(v^) + eps = sqrt(v_t) / sqrt(bc2) + eps; the step is lr / bc1 * m_t / that. Written as
    // p + ((-lr / bc1) m_t) / denom, the same float operations in the same order as addcdiv_ with
    // a host scalar did before the scalars moved to the device (so runs reproduce bit for bit).
    const at::Tensor denom = (v_[i].sqrt() / sqrt_bc2).add_(opt_.eps);
    p.addcdiv_(m_[i] * neg_step, denom, 1.0);
  }
}

void AdamW::zero_grad() {
  for (auto& p : p_)
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard ng;
  // ||g|| = sqrt(sum_i ||g_i||^2), accumulated in fp32 on the parameters' device.
  at::Tensor sq;
  for (const auto& p : params) {
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor s = g.to(at::kFloat).pow(2).sum();
    sq = sq.defined() ? sq + s : s;
  }
  if (!sq.defined()) return at::zeros({}, at::kFloat);
  at::Tensor norm = sq.sqrt();
  if (max_norm > 0) {
    // scale = min(1, max_norm / (norm + 1e-6)), applied without a host sync.
    at::Tensor scale = (max_norm / (norm + 1e-6)).clamp_max(1.0);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return norm;
}

}  // namespace hyb
