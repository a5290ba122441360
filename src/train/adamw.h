// train/adamw: AdamW (Loshchilov & Hutter) on fp32 tensors, and gradient-norm clipping.
// Written out rather than taken from torch::optim so that its state (step, moments) is plain
// tensors we checkpoint through safetensors, and so the update is visible:
//
//   m_t = b1 m_{t-1} + (1 - b1) g_t                 first moment
//   v_t = b2 v_{t-1} + (1 - b2) g_t^2               second moment
//   m^ = m_t / (1 - b1^t),  v^ = v_t / (1 - b2^t)   bias correction (moments start at 0)
//   p  = p - lr wd p                                decoupled weight decay (not through g)
//   p  = p - lr m^ / (sqrt(v^) + eps)
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace hyb {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95;  // 0.95: the usual choice for transformer training (faster v)
  double eps = 1e-8;
  double weight_decay = 0.01;  // applied to tensors marked `decay` (matrices, not gains/biases)
};

class AdamW {
 public:
  AdamW() = default;
  // params: leaf tensors updated in place (fp32 masters); decay[i]: whether weight decay applies.
  AdamW(std::vector<at::Tensor> params, std::vector<bool> decay, AdamWOptions opt);

  // One update from each parameter's .grad() (parameters without a gradient are left alone):
  // advance(lr) then apply().
  void step(double lr);
  // The host half of a step: counts it and writes its scalars (-lr / (1 - b1^t), sqrt(1 - b2^t),
  // 1 - lr wd) into a device tensor that apply() reads, so that apply() can be recorded once in a
  // CUDA graph and replayed every step.
  void advance(double lr);
  // The device half: the moment and parameter updates, in place.
  void apply();
  void zero_grad();  // drops the gradients

  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  std::vector<at::Tensor>& exp_avg() { return m_; }
  std::vector<at::Tensor>& exp_avg_sq() { return v_; }
  const std::vector<at::Tensor>& params() const { return p_; }

 private:
  std::vector<at::Tensor> p_, m_, v_;
  std::vector<bool> decay_;
  AdamWOptions opt_;
  int64_t t_ = 0;
  at::Tensor scalars_;  // [3] fp32 on the parameters' device: -step size, sqrt(bc2), decay factor
};

// Scales the gradients of `params` so that their joint L2 norm is at most max_norm (when
// max_norm > 0). Returns the norm before clipping (a 0-dim fp32 tensor, no host sync).
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace hyb
