// The search's uncertainty: standard errors, paired differences per document, the significance
// rule, and --stop-on-significant-drop's effect on Algorithm 1 (only a significant drop stops).
#include <gtest/gtest.h>

#include <cmath>

#include "search/search.h"
#include "search/uncertainty.h"

namespace hyb {
namespace {

TEST(Uncertainty, MeanAndStandardError) {
  const MeanSE m = mean_se({1, 0, 1, 0});
  EXPECT_DOUBLE_EQ(m.mean, 0.5);
  EXPECT_NEAR(m.se, std::sqrt(1.0 / 3.0) / 2.0, 1e-12);  // sd (n-1) / sqrt(n)
  EXPECT_DOUBLE_EQ(mean_se({1}).se, 0.0);
  EXPECT_DOUBLE_EQ(mean_se({}).mean, 0.0);
}

TEST(Uncertainty, PairedDifferenceIsPerDocument) {
  // Two models agreeing on all but one document: the paired SE is far below the unpaired.
  std::vector<double> a(100), b(100);
  for (int i = 0; i < 100; ++i) a[i] = b[i] = i % 2;
  b[0] = 1;  // a loses document 0
  const MeanSE d = paired_difference(a, b);
  EXPECT_DOUBLE_EQ(d.mean, -0.01);
  EXPECT_NEAR(d.se, 0.01, 1e-12);  // sd of one -1 among 99 zeros = 0.1, over sqrt(100)
  EXPECT_FALSE(significant_drop(a, b));  // one document in 100: noise
  for (int i = 1; i < 41; i += 2) a[i] = 0;  // a loses 20 more of the documents b gets right
  EXPECT_TRUE(significant_drop(a, b));
  EXPECT_FALSE(significant_drop(b, b));
  EXPECT_THROW(paired_difference({1, 0}, {1}), std::invalid_argument);
}

TEST(Uncertainty, WeightedSumOfIndependentTasks) {
  const MeanSE a{0.5, 0.03}, b{0.8, 0.04};
  const MeanSE w = weighted_sum({a, b}, {0.25, 0.75});
  EXPECT_DOUBLE_EQ(w.mean, 0.25 * 0.5 + 0.75 * 0.8);
  // Var(0.25 A + 0.75 B) = 0.0625 Var A + 0.5625 Var B for independent A, B.
  EXPECT_NEAR(w.se, std::sqrt(0.0625 * 0.0009 + 0.5625 * 0.0016), 1e-15);
  // One task of weight 1 is that task, bit for bit (the one-task search is unchanged).
  for (double se : {0.1, 1.0 / 3.0, 0.017, 2.5e-3, 0.123456789})
    EXPECT_EQ(weighted_sum({{0.37, se}}, {1.0}).se, se);
  EXPECT_TRUE(significant_drop(MeanSE{-0.05, 0.02}));
  EXPECT_FALSE(significant_drop(MeanSE{-0.03, 0.02}));
  EXPECT_THROW(weighted_sum({a}, {0.5, 0.5}), std::invalid_argument);
}

// score(S) = 1 - 0.1 |S|: every round's best falls by 0.1.
double linear_cost(const LayerSet& s, const LayerSet&) { return 1.0 - 0.1 * static_cast<double>(s.size()); }

TEST(Uncertainty, StopOnlyOnASignificantDrop) {
  SearchOptions o;
  o.max_drop = 0.15;  // P_min = 0.85: round 2 (0.8) is under it
  ScoreJournal j0;
  const SearchResult plain = run_search(4, linear_cost, o, j0);
  ASSERT_EQ(plain.rounds.size(), 2u);
  EXPECT_FALSE(plain.rounds[1].accepted);

  // Drops within noise are accepted; the search stops where the hook calls the drop significant.
  std::vector<std::pair<LayerSet, LayerSet>> asked;
  o.significant_drop = [&](const LayerSet& candidate, const LayerSet& current) {
    asked.emplace_back(candidate, current);
    return candidate.size() >= 4;
  };
  ScoreJournal j1;
  const SearchResult noisy = run_search(4, linear_cost, o, j1);
  ASSERT_EQ(noisy.rounds.size(), 4u);
  EXPECT_TRUE(noisy.rounds[1].accepted);
  EXPECT_TRUE(noisy.rounds[2].accepted);
  EXPECT_FALSE(noisy.rounds[3].accepted);
  EXPECT_EQ(noisy.opt.layers, (LayerSet{0, 1, 2}));
  EXPECT_EQ(noisy.stop_reason, "best candidate fell under P_min, by more than 2 paired standard errors");
  // Asked only for rounds under P_min, with the current model the candidate extends.
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[0].first, (LayerSet{0, 1}));
  EXPECT_EQ(asked[0].second, (LayerSet{0}));
  // Rounds above P_min are untouched: the first round is the plain search's.
  EXPECT_EQ(noisy.rounds[0].chosen, plain.rounds[0].chosen);
  EXPECT_DOUBLE_EQ(noisy.rounds[0].score, plain.rounds[0].score);
}

}  // namespace
}  // namespace hyb
