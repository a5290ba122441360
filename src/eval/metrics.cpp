#include "eval/metrics.h"

#include <cmath>

#include "eval/bootstrap.h"
#include "eval/text.h"

namespace hyb::eval {

namespace {

// numpy.argmax: the first index of the maximum.
int64_t argmax(const std::vector<double>& v) {
  int64_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = static_cast<int64_t>(i);
  return best;
}

double mean(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v;
  return x.empty() ? 0 : s / static_cast<double>(x.size());
}

}  // namespace

double mean_stderr(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size()), m = mean(x);
  double ss = 0;
  for (double v : x) ss += (v - m) * (v - m);
  return std::sqrt(ss / (n - 1) / n);
}

DocResult score_doc(const TaskSpec& task, const Instance& inst, std::vector<double> ll, std::vector<bool> greedy) {
  DocResult d;
  d.ll = std::move(ll);
  d.greedy = std::move(greedy);
  if (task.output == OutputType::kLoglikelihood) {
    d.acc = d.greedy.at(0) ? 1.0 : 0.0;
    return d;
  }
  d.pred = argmax(d.ll);
  d.acc = d.pred == inst.gold ? 1.0 : 0.0;
  std::vector<double> norm(d.ll.size());
  for (size_t i = 0; i < norm.size(); ++i) norm[i] = d.ll[i] / static_cast<double>(code_points(inst.choices.at(i)));
  d.pred_norm = argmax(norm);
  d.acc_norm = d.pred_norm == inst.gold ? 1.0 : 0.0;
  return d;
}

std::vector<Metric> aggregate(const TaskSpec& task, const std::vector<DocResult>& docs) {
  std::vector<Metric> out;
  const bool several = docs.size() > 1;
  for (const auto& name : task.metrics) {
    std::vector<double> x;
    for (const auto& d : docs) x.push_back(name == "acc" ? d.acc : name == "acc_norm" ? d.acc_norm : d.ll.at(0));
    Metric m{name, mean(x), several ? mean_stderr(x) : 0.0, several};
    if (name == "perplexity") {
      m.value = std::exp(-m.value);
      if (several) m.stderr = bootstrap_stderr(x, [](const std::vector<double>& v) { return std::exp(-mean(v)); });
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace hyb::eval
