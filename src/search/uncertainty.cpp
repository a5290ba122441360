#include "search/uncertainty.h"

#include <cmath>
#include <stdexcept>

namespace hyb {

MeanSE mean_se(const std::vector<double>& x) {
  MeanSE r;
  const double n = static_cast<double>(x.size());
  if (x.empty()) return r;
  for (double v : x) r.mean += v;
  r.mean /= n;
  if (x.size() < 2) return r;
  double ss = 0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  r.se = std::sqrt(ss / (n - 1) / n);
  return r;
}

MeanSE paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("paired_difference: different numbers of documents");
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return mean_se(d);
}

bool significant_drop(const std::vector<double>& candidate, const std::vector<double>& current) {
  return significant_drop(paired_difference(candidate, current));
}

bool significant_drop(const MeanSE& d) { return d.mean < -2.0 * d.se; }

MeanSE weighted_sum(const std::vector<MeanSE>& parts, const std::vector<double>& weights) {
  if (parts.size() != weights.size()) throw std::invalid_argument("weighted_sum: one weight per part");
  MeanSE r;
  double var = 0;
  for (size_t t = 0; t < parts.size(); ++t) {
    r.mean += weights[t] * parts[t].mean;
    var += weights[t] * weights[t] * parts[t].se * parts[t].se;
  }
  r.se = std::sqrt(var);  // sqrt(se * se) == se exactly in IEEE arithmetic: one task is unchanged
  return r;
}

}  // namespace hyb
