// train/schedule: the learning rate of update s = 1, 2, ..., total:
//
//   s <= W:  lr * s / W                                     linear warm-up (W = warmup, may be 0)
//   s >  W:  lo + (lr - lo) (1 + cos(pi min(1, p))) / 2     cosine to lo = lr * min_lr_ratio,
//            p = (s - W) / max(1, total - W)                (constant lr when !cosine)
// Pure C++.
#pragma once
#include <cstdint>

namespace hyb {

struct LrSchedule {
  double lr = 1e-3, min_lr_ratio = 0.1;
  int64_t warmup = 0, total = 1;
  bool cosine = true;  // false: lr after the warm-up

  double at(int64_t s) const;
};

}  // namespace hyb
