// Metrics as the harness computes them: acc with first-index ties, acc_norm over Unicode
// characters (not bytes), perplexity, and the sample standard error of the mean.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/bootstrap.h"
#include "eval/metrics.h"
#include "util/progress.h"

namespace hyb::eval {
namespace {

TaskSpec mc_task() {
  TaskSpec t;
  t.name = "t";
  t.metrics = {"acc", "acc_norm"};
  return t;
}

TEST(EvalMetrics, AccNormCountsCharactersNotBytes) {
  Instance inst;
  inst.choices = {"\u00e9t\u00e9", "abcdef"};  // 3 characters (5 bytes), 6 characters (6 bytes)
  inst.gold = 1;
  // Per character: -3.3/3 = -1.1 < -6.0/6 = -1.0 -> choice 1. Per byte it would be -0.66 > -1.0 -> choice 0.
  auto d = score_doc(mc_task(), inst, {-3.3, -6.0}, {false, false});
  EXPECT_EQ(d.pred, 0);
  EXPECT_EQ(d.acc, 0.0);
  EXPECT_EQ(d.pred_norm, 1);
  EXPECT_EQ(d.acc_norm, 1.0);
}

TEST(EvalMetrics, TiesGoToTheFirstChoice) {
  Instance inst;
  inst.choices = {"a", "b"};
  inst.gold = 1;
  auto d = score_doc(mc_task(), inst, {-1.0, -1.0}, {false, false});
  EXPECT_EQ(d.pred, 0);
}

TEST(EvalMetrics, MeansAndStandardErrors) {
  std::vector<DocResult> docs(4);
  const double acc[4] = {1, 0, 1, 1};
  for (int i = 0; i < 4; ++i) docs[i].acc = docs[i].acc_norm = acc[i];
  auto m = aggregate(mc_task(), docs);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(m[0].value, 0.75);
  EXPECT_NEAR(m[0].stderr, 0.25, 1e-12);  // sqrt(var_{n-1} / n) = sqrt(0.25 / 4)
  EXPECT_NEAR(mean_stderr({1, 0, 1, 1}), 0.25, 1e-12);
  auto one = aggregate(mc_task(), {docs[0]});
  EXPECT_FALSE(one[0].has_stderr);
}

TEST(EvalMetrics, Perplexity) {
  TaskSpec t;
  t.output = OutputType::kLoglikelihood;
  t.metrics = {"perplexity", "acc"};
  Instance inst;
  std::vector<DocResult> docs = {score_doc(t, inst, {-1.0}, {true}), score_doc(t, inst, {-3.0}, {false})};
  auto m = aggregate(t, docs);
  EXPECT_NEAR(m[0].value, std::exp(2.0), 1e-9);
  EXPECT_NEAR(m[0].stderr, bootstrap_stderr({-1.0, -3.0}, [](const std::vector<double>& v) {
                return std::exp(-(v[0] + v[1]) / 2);
              }), 1e-12);
  EXPECT_DOUBLE_EQ(m[1].value, 0.5);
}

TEST(EvalMetrics, PythonRandomAndTheHarnessBootstrap) {
  // Values printed by CPython 3.11: random.Random(0).random() x3, random.Random(7).random(), and
  // the harness's bootstrap of exp(-mean) over 3 chunks (3000 resamples) of xs.
  PyRandom r0(0);
  EXPECT_DOUBLE_EQ(r0.random(), 0.8444218515250481);
  EXPECT_DOUBLE_EQ(r0.random(), 0.7579544029403025);
  EXPECT_DOUBLE_EQ(r0.random(), 0.420571580830845);
  EXPECT_DOUBLE_EQ(PyRandom(7).random(), 0.32383276483316237);
  const std::vector<double> xs = {-1.0, -3.0, -2.5, -0.5, -7.0};
  auto ppl = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return std::exp(-s / static_cast<double>(v.size()));
  };
  EXPECT_NEAR(bootstrap_stderr(xs, ppl, 3000), 59.374517246963535, 1e-9);
}

TEST(Progress, Format) {
  EXPECT_EQ(Progress::format("arc", 25, 100, 5.0, "samples", "batch 3", 10),
            "arc [##--------] 25/100 25% | 5.0 samples/s | ETA 0:15 | batch 3");
  EXPECT_EQ(Progress::format("", 100, 100, 3725.0, "samples", "", 4), "[####] 100/100 100% | 0.0 samples/s | 1:02:05");
  EXPECT_EQ(Progress::format_duration(59.6), "1:00");
}

}  // namespace
}  // namespace hyb::eval
