#include "demo/optim.h"

#include <cmath>

namespace hyb::demo {

AdamW::AdamW(std::vector<at::Tensor> params, double weight_decay, double beta1, double beta2, double eps)
    : p_(std::move(params)), wd_(weight_decay), b1_(beta1), b2_(beta2), eps_(eps) {
  for (const auto& p : p_) {
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1 - std::pow(b1_, static_cast<double>(t_));
  const double bc2 = 1 - std::pow(b2_, static_cast<double>(t_));
  for (size_t i = 0; i < p_.size(); ++i) {
    at::Tensor& p = p_[i];
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    m_[i].mul_(b1_).add_(g, 1 - b1_);
    v_[i].mul_(b2_).addcmul_(g, g, 1 - b2_);
    if (p.dim() >= 2 && wd_ > 0) p.mul_(1 - lr * wd_);
    p.addcdiv_(m_[i], (v_[i] / bc2).sqrt_().add_(eps_), -lr / bc1);
  }
}

void AdamW::zero_grad() {
  for (auto& p : p_)
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double sq = 0;
  for (const auto& p : params)
    if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm)
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(max_norm / (norm + 1e-6));
  return norm;
}

double cosine_lr(int64_t step, int64_t total, int64_t warmup, double lr, double min_ratio) {
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / std::max<int64_t>(1, total - warmup));
  return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + std::cos(M_PI * progress)));
}

}  // namespace hyb::demo
