// eval/bootstrap: the harness's bootstrap standard error (lm_eval/api/metrics.py bootstrap_stderr),
// used for perplexity: `iters` resamples in chunks of 1000, chunk i drawn by Python's
// random.Random(i).choices(xs, k=len(xs)), the statistic of each, then their sample standard
// deviation. Python's generator (MT19937 seeded by init_by_array, random() of 53 bits) is
// reproduced so the value is the harness's, not just close to it. Pure C++.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace hyb::eval {

// Python's random.Random(seed) for a seed below 2^32: random() in [0, 1).
class PyRandom {
 public:
  explicit PyRandom(uint32_t seed);
  double random();

 private:
  uint32_t next();
  uint32_t mt_[624];
  int index_ = 624;
};

double bootstrap_stderr(const std::vector<double>& xs, const std::function<double(const std::vector<double>&)>& f,
                        int64_t iters = 100000);

}  // namespace hyb::eval
