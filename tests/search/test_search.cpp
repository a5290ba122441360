// Algorithm 1 line by line on a deterministic scorer stub: tie rules, threshold, stopping,
// M_best / M_opt; the baselines' orders; resume from a journal equals an uninterrupted run.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "search/search.h"

namespace hyb {
namespace {

// score(S) = 1 - sum of per-layer costs: additive, so every round can be worked out by hand.
ScoreFn additive(std::vector<double> cost, int* calls = nullptr) {
  return [cost, calls](const LayerSet& s, const LayerSet&) {
    if (calls) ++*calls;
    double v = 1.0;
    for (auto l : s) v -= cost[l];
    return v;
  };
}

TEST(Search, GreedyFollowsAlgorithm1) {
  ScoreJournal j;
  SearchOptions o;
  o.max_drop = 0.25;  // P_min = 0.75
  auto r = run_search(4, additive({0.3, 0.1, 0.1, 0.5}), o, j);
  EXPECT_DOUBLE_EQ(r.base, 1.0);
  EXPECT_DOUBLE_EQ(r.p_min, 0.75);
  ASSERT_EQ(r.rounds.size(), 3u);
  // Round 1: layers 1 and 2 tie at 0.9; the lowest index wins.
  EXPECT_EQ(r.rounds[0].candidates.size(), 4u);
  EXPECT_EQ(r.rounds[0].chosen, 1);
  EXPECT_DOUBLE_EQ(r.rounds[0].score, 0.9);
  // Round 2: {1,2} = 0.8 is best among the 3 remaining.
  EXPECT_EQ(r.rounds[1].candidates.size(), 3u);
  EXPECT_EQ(r.rounds[1].chosen, 2);
  // Round 3: best is {0,1,2} = 0.5 < P_min: the search stops, nothing is added.
  EXPECT_FALSE(r.rounds[2].accepted);
  EXPECT_EQ(r.rounds[2].chosen, -1);
  EXPECT_NEAR(r.rounds[2].score, 0.5, 1e-12);
  EXPECT_EQ(r.stop_reason, "best candidate fell under P_min");
  // M_best is the best score seen, the base's included: every replacement here costs something.
  EXPECT_EQ(r.best.layers, (LayerSet{}));
  EXPECT_DOUBLE_EQ(r.best.score, 1.0);
  EXPECT_EQ(r.opt.layers, (LayerSet{1, 2}));
  EXPECT_NEAR(r.opt.score, 0.8, 1e-12);
}

TEST(Search, BestTieGoesToMoreLinearLayers) {
  ScoreJournal j;
  SearchOptions o;
  o.max_drop = 1.0;  // full trajectory
  auto r = run_search(3, additive({0.2, 0.0, 0.0}), o, j);
  // Round 1: 1 and 2 both keep 1.0 (= base): 1 wins the tie; M_best moves to {1} (equal score,
  // more linear layers), then to {1,2}, also 1.0.
  EXPECT_EQ(r.rounds[0].chosen, 1);
  EXPECT_EQ(r.rounds[1].chosen, 2);
  EXPECT_EQ(r.best.layers, (LayerSet{1, 2}));
  EXPECT_EQ(r.opt.layers, (LayerSet{0, 1, 2}));  // max-drop 1: everything is acceptable
  EXPECT_EQ(r.stop_reason, "all layers are linear");
  EXPECT_EQ(r.rounds.size(), 3u);
}

TEST(Search, MinScoreAndReplaceLimit) {
  ScoreJournal j;
  SearchOptions o;
  o.min_score = 0.85;
  auto r = run_search(4, additive({0.3, 0.1, 0.1, 0.5}), o, j);
  EXPECT_EQ(r.opt.layers, (LayerSet{1}));  // {1,2} = 0.8 < 0.85
  ScoreJournal j2;
  SearchOptions o2;
  o2.max_drop = 1.0;
  o2.replace = 2;
  auto r2 = run_search(4, additive({0.3, 0.1, 0.1, 0.5}), o2, j2);
  EXPECT_EQ(r2.opt.layers, (LayerSet{1, 2}));
  EXPECT_EQ(r2.rounds.size(), 2u);
  EXPECT_EQ(r2.stop_reason, "reached --replace 2");
}

TEST(Search, Baselines) {
  const std::vector<double> cost = {0.3, 0.05, 0.1, 0.5};
  SearchOptions o;
  o.max_drop = 1.0;
  o.strategy = "importance";  // single-layer scores 0.7 0.95 0.9 0.5 -> order 1, 2, 0, 3
  ScoreJournal j1;
  auto imp = run_search(4, additive(cost), o, j1);
  ASSERT_EQ(imp.rounds.size(), 4u);
  EXPECT_EQ(imp.rounds[0].candidates.size(), 4u);
  EXPECT_EQ(imp.rounds[0].chosen, 1);
  EXPECT_EQ(imp.rounds[1].chosen, 2);
  EXPECT_EQ(imp.rounds[2].chosen, 0);
  EXPECT_EQ(imp.rounds[3].chosen, 3);
  EXPECT_EQ(uniform_placement(28, 14).front(), 1);
  EXPECT_EQ(uniform_placement(28, 14).back(), 27);
  EXPECT_EQ(uniform_placement(28, 1), (LayerSet{14}));
  EXPECT_EQ(uniform_placement(4, 2), (LayerSet{1, 3}));
  EXPECT_EQ(uniform_placement(5, 5), (LayerSet{0, 1, 2, 3, 4}));
  o.strategy = "uniform";
  ScoreJournal j2;
  auto uni = run_search(4, additive(cost), o, j2);
  EXPECT_EQ(uni.rounds[1].candidates[0].layers, (LayerSet{1, 3}));
  o.strategy = "random";
  o.seed = 7;
  ScoreJournal j3, j4;
  auto a = run_search(4, additive(cost), o, j3), b = run_search(4, additive(cost), o, j4);
  for (size_t i = 0; i < a.rounds.size(); ++i) EXPECT_EQ(a.rounds[i].chosen, b.rounds[i].chosen);
  o.strategy = "bogus";
  ScoreJournal j5;
  EXPECT_THROW(run_search(4, additive(cost), o, j5), std::exception);
}

TEST(Search, ResumeEqualsUninterrupted) {
  auto dir = test::temp_dir("search_resume");
  const std::vector<double> cost = {0.3, 0.1, 0.12, 0.5, 0.05, 0.2};
  SearchOptions o;
  o.max_drop = 1.0;
  ScoreJournal full;
  auto want = run_search(6, additive(cost), o, full);
  // Interrupted after 9 scored candidates (the scorer "crashes").
  int calls = 0;
  auto crashing = [&](const LayerSet& s, const LayerSet& e) {
    if (++calls > 9) throw std::runtime_error("interrupted");
    return additive(cost)(s, e);
  };
  {
    ScoreJournal j(dir / "candidates.jsonl", /*resume=*/false);
    EXPECT_THROW(run_search(6, crashing, o, j), std::runtime_error);
  }
  int resumed_calls = 0;
  ScoreJournal j(dir / "candidates.jsonl", /*resume=*/true);
  auto got = run_search(6, additive(cost, &resumed_calls), o, j);
  EXPECT_EQ(j.replayed(), 9);
  EXPECT_EQ(resumed_calls, 1 + 6 + 5 + 4 + 3 + 2 + 1 - 9);  // only the unfinished candidates
  ASSERT_EQ(got.rounds.size(), want.rounds.size());
  for (size_t i = 0; i < got.rounds.size(); ++i) {
    EXPECT_EQ(got.rounds[i].chosen, want.rounds[i].chosen);
    EXPECT_EQ(got.rounds[i].score, want.rounds[i].score);
  }
  EXPECT_EQ(got.to_json().dump(), want.to_json().dump());
}

// A process killed in the middle of a round (the scorer throws, as SIGKILL ends it) keeps every
// candidate scored before the kill: each is journalled as it is reported, not when the round ends
// (which lost the whole round: a round of a 28-layer model is 28 evaluations). The resumed search
// rescores only the rest and equals the uninterrupted one.
TEST(Search, KilledMidRoundKeepsItsFinishedCandidates) {
  const auto dir = test::temp_dir("search_killed_mid_round");
  const std::vector<double> cost = {0.3, 0.1, 0.12, 0.5, 0.05, 0.2};
  SearchOptions o;
  o.max_drop = 1.0;
  ScoreJournal full;
  const auto want = run_search(6, additive(cost), o, full);
  const ScoreFn fn = additive(cost);
  int scored = 0, kill_after = 1 + 4;  // the base, then 4 of round 1's 6 candidates
  const ScoreManyFn one_by_one = [&](const std::vector<LayerSet>& cands, const LayerSet& ext, const ScoredFn& on_scored) {
    std::vector<Scored> out;
    for (const auto& c : cands) {
      if (scored++ == kill_after) throw std::runtime_error("killed");
      out.push_back({fn(c, ext), 0.0});
      on_scored(out.size() - 1, out.back());
    }
    return out;
  };
  {
    ScoreJournal j(dir / "candidates.jsonl", /*resume=*/false);
    EXPECT_THROW(run_search(6, fn, o, j, nullptr, one_by_one), std::runtime_error);
  }
  ScoreJournal j(dir / "candidates.jsonl", /*resume=*/true);
  scored = 0, kill_after = -1;
  const auto got = run_search(6, fn, o, j, nullptr, one_by_one);
  EXPECT_EQ(j.replayed(), 5);                               // the base and 4 candidates from the journal
  EXPECT_EQ(scored, 1 + 6 + 5 + 4 + 3 + 2 + 1 - 5);         // only the others scored again
  EXPECT_EQ(got.to_json().dump(), want.to_json().dump());
}

// A round scored all at once (how --gpus N spreads it: here scored back to front, as another rank
// order would) gives the search that one-by-one scoring gives, one call per round; a journal that
// may not write (ranks but 0) leaves the file alone.
TEST(Search, ScoreManyGivesTheSameSearch) {
  const std::vector<double> cost = {0.3, 0.05, 0.1, 0.5, 0.02};
  const ScoreFn fn = additive(cost);
  int calls = 0;
  const ScoreManyFn many = [&](const std::vector<LayerSet>& cands, const LayerSet&, const ScoredFn&) {
    ++calls;
    std::vector<Scored> out(cands.size());
    for (size_t i = cands.size(); i-- > 0;) out[i] = {fn(cands[i], {}), 0.0};
    return out;
  };
  for (const std::string strategy : {"greedy", "importance", "uniform"}) {
    SearchOptions o;
    o.strategy = strategy;
    o.max_drop = 0.3;
    ScoreJournal j1, j2;
    const auto a = run_search(5, fn, o, j1), b = run_search(5, fn, o, j2, nullptr, many);
    EXPECT_EQ(a.to_json(), b.to_json()) << strategy;
    ASSERT_EQ(a.rounds.size(), b.rounds.size());
    for (size_t r = 0; r < a.rounds.size(); ++r) {
      ASSERT_EQ(a.rounds[r].candidates.size(), b.rounds[r].candidates.size());
      for (size_t c = 0; c < a.rounds[r].candidates.size(); ++c) {
        EXPECT_EQ(a.rounds[r].candidates[c].layers, b.rounds[r].candidates[c].layers);
        EXPECT_EQ(a.rounds[r].candidates[c].score, b.rounds[r].candidates[c].score);
      }
    }
  }
  calls = 0;
  SearchOptions o;
  o.max_drop = 0.3;
  ScoreJournal j;
  const auto r = run_search(5, fn, o, j, nullptr, many);
  EXPECT_EQ(calls, 1 + static_cast<int>(r.rounds.size()));  // the base, then one call per round

  const auto dir = test::temp_dir("search_journal_readonly");
  {
    ScoreJournal w(dir / "c.jsonl");
    run_search(5, fn, o, w, nullptr, many);
  }
  const auto size = std::filesystem::file_size(dir / "c.jsonl");
  ScoreJournal ro(dir / "c.jsonl", /*resume=*/true, /*write=*/false);
  const auto again = run_search(5, fn, o, ro, nullptr, many);
  // Rounds add layers 4, 1, 2; round 4's best ({0,1,2,4}: 0.53) is under P_min = 0.7.
  ASSERT_EQ(r.rounds.size(), 4u);
  EXPECT_EQ(ro.replayed(), 1 + 5 + 4 + 3 + 2);  // every score from the journal
  EXPECT_EQ(std::filesystem::file_size(dir / "c.jsonl"), size);
  EXPECT_EQ(again.to_json(), r.to_json());
}

}  // namespace
}  // namespace hyb
