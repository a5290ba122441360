// search/uncertainty: how far apart two scores must be before the search may call them different.
// A score that is a mean over n documents x_i has standard error SE = sd(x) / sqrt(n) (sd with
// n - 1). Two models scored on the same documents are compared through the per-document
// differences d_i = a_i - b_i (paired): mean(d) with SE(d) = sd(d) / sqrt(n), far smaller than
// the two SEs combined when the models agree on most documents. A drop is significant when
// mean(d) < -2 SE(d); a base is within noise of chance when base - chance < 2 SE(base).
// A multi-task score is a weighted mean of task scores over disjoint documents, so the tasks'
// errors are independent: mean sum w_t m_t with SE sqrt(sum w_t^2 SE_t^2), for scores and for
// paired differences alike (each task's difference paired per document first).
#pragma once
#include <vector>

namespace hyb {

struct MeanSE {
  double mean = 0, se = 0;  // se = 0 for fewer than 2 values
};

MeanSE mean_se(const std::vector<double>& x);
// Per-document a - b (a and b of the same length: the same documents in the same order).
MeanSE paired_difference(const std::vector<double>& a, const std::vector<double>& b);
// Whether `candidate` scores significantly less than `current` (mean difference < -2 SE).
bool significant_drop(const std::vector<double>& candidate, const std::vector<double>& current);
// The same for a difference already computed (paired_difference, or weighted over tasks).
bool significant_drop(const MeanSE& difference);
// sum w_t x_t of independent estimates x_t (the tasks of a multi-task score): one part of weight 1
// is that part unchanged. parts and weights of the same length.
MeanSE weighted_sum(const std::vector<MeanSE>& parts, const std::vector<double>& weights);

}  // namespace hyb
