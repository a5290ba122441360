#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace hyb {

double LrSchedule::at(int64_t s) const {
  if (warmup > 0 && s <= warmup) return lr * static_cast<double>(s) / static_cast<double>(warmup);
  if (!cosine) return lr;
  const double p = static_cast<double>(s - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double lo = lr * min_lr_ratio;
  return lo + (lr - lo) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, p)));
}

}  // namespace hyb
