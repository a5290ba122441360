// demo/optim: the small AdamW and learning-rate schedule the demo's two training loops share
// (pretraining the teacher, distilling the students). distill/adamw.h is the library's
// checkpointable optimiser; this one is the minimum a few-minute run needs:
//
//   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2                 moments
//   p = p (1 - lr wd)                                                 decoupled decay (matrices only)
//   p = p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)       bias-corrected step
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace hyb::demo {

class AdamW {
 public:
  // params: leaf tensors with requires_grad, updated in place. Weight decay applies to tensors
  // of two or more dimensions (projections, embeddings), not to gains, biases or gate vectors.
  AdamW(std::vector<at::Tensor> params, double weight_decay, double beta1 = 0.9, double beta2 = 0.95,
        double eps = 1e-8);
  void step(double lr);  // from each parameter's .grad()
  void zero_grad();

 private:
  std::vector<at::Tensor> p_, m_, v_;
  double wd_, b1_, b2_, eps_;
  int64_t t_ = 0;
};

// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// Linear warm-up over `warmup` steps, then cosine from lr down to lr * min_ratio at `total`.
double cosine_lr(int64_t step, int64_t total, int64_t warmup, double lr, double min_ratio);

}  // namespace hyb::demo
