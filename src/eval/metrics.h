// eval/metrics: per-document predictions and the harness's aggregate metrics.
//   acc        argmax_i ll_i == gold (ties: the first index); loglikelihood tasks: is_greedy
//   acc_norm   argmax_i ll_i / len(choice_i) == gold, len in Unicode code points
//   perplexity exp(-mean ll) (loglikelihood tasks)
// Standard errors as the harness: sqrt(sample variance (n-1) / n) for means; for perplexity its
// bootstrap (100,000 resamples drawn by Python's seeded generator, eval/bootstrap). Pure C++.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/task.h"

namespace hyb::eval {

// One document's outcome.
struct DocResult {
  std::vector<double> ll;    // per request
  std::vector<bool> greedy;  // per request
  int64_t pred = -1, pred_norm = -1;
  double acc = 0, acc_norm = 0;
};

DocResult score_doc(const TaskSpec& task, const Instance& inst, std::vector<double> ll, std::vector<bool> greedy);

struct Metric {
  std::string name;
  double value = 0;
  double stderr = 0;
  bool has_stderr = true;  // false with a single document (the harness writes "N/A")
};

std::vector<Metric> aggregate(const TaskSpec& task, const std::vector<DocResult>& docs);

// sqrt(sum((x - mean)^2) / (n - 1) / n): the harness's mean_stderr.
double mean_stderr(const std::vector<double>& x);

}  // namespace hyb::eval
