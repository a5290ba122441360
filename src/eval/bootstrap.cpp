#include "eval/bootstrap.h"

#include <cmath>

namespace hyb::eval {

// MT19937 as CPython's _randommodule.c: init_genrand(19650218), then init_by_array(key = {seed}).
PyRandom::PyRandom(uint32_t seed) {
  mt_[0] = 19650218u;
  for (int i = 1; i < 624; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  int i = 1;
  for (int k = 624; k; --k) {  // key length 1: j stays 0
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + seed;
    if (++i >= 624) mt_[0] = mt_[623], i = 1;
  }
  for (int k = 623; k; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
    if (++i >= 624) mt_[0] = mt_[623], i = 1;
  }
  mt_[0] = 0x80000000u;
}

uint32_t PyRandom::next() {
  if (index_ >= 624) {
    for (int k = 0; k < 624; ++k) {
      const uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % 624] & 0x7fffffffu);
      mt_[k] = mt_[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  return y ^ (y >> 18);
}

double PyRandom::random() {  // genrand_res53
  const uint32_t a = next() >> 5, b = next() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

double bootstrap_stderr(const std::vector<double>& xs, const std::function<double(const std::vector<double>&)>& f,
                        int64_t iters) {
  const int64_t chunk = std::min<int64_t>(1000, iters), n = static_cast<int64_t>(xs.size());
  std::vector<double> stats, sample(n);
  for (int64_t c = 0; c < iters / chunk; ++c) {
    PyRandom rnd(static_cast<uint32_t>(c));
    for (int64_t r = 0; r < chunk; ++r) {
      for (int64_t k = 0; k < n; ++k)  // random.choices: population[floor(random() * n)]
        sample[k] = xs[static_cast<int64_t>(std::floor(rnd.random() * static_cast<double>(n)))];
      stats.push_back(f(sample));
    }
  }
  // sample_stddev: sqrt(sum((x - mean)^2) / (len - 1))
  double sum = 0;
  for (double s : stats) sum += s;
  const double mu = sum / static_cast<double>(stats.size());
  double ss = 0;
  for (double s : stats) ss += (s - mu) * (s - mu);
  return std::sqrt(ss / static_cast<double>(stats.size() - 1));
}

}  // namespace hyb::eval
