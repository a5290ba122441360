// search: phase 2 of Distill-then-Replace, greedy layer replacement (the paper's Algorithm 1) and
// the paper's baselines, over any scorer: the search only asks "what does the task score when
// exactly these layers are linear?", so it is tested with a deterministic stub and runs on
// the real evaluator (search/task_scorer) unchanged; search/search_run is `hybridize search` as one
// call (scorer, processes, journal, outputs), search/layer_swapper swaps the modules in and out,
// search/export writes the hybrid directories.
//
// Algorithm 1 (greedy):
//   P_base = score({});  P_min = P_base * (1 - max_drop)  (or --min-score)
//   R = {};  M_best = M_opt = ({}, P_base)
//   repeat:
//     for each l not in R, ascending:  s_l = score(R + {l})
//     l* = argmax s_l  (strictly greater wins: ties go to the lowest layer index)
//     if s_l* < P_min: stop
//     R = R + {l*}
//     if s_l* >= M_best.score: M_best = (R, s_l*)       (ties go to more linear layers)
//     M_opt = (R, s_l*)                                   (most linear layers with score >= P_min)
//   until |R| = L or |R| = K (--replace K)
// Baselines replace layers in a fixed order instead, scoring each prefix of that order:
//   importance: by the score of swapping each layer alone (round 1 of greedy), best first;
//   uniform: evenly interleaved placements for each count k;  random: a seeded permutation.
#pragma once
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/layers.h"
#include "util/files.h"

namespace hyb {

struct SearchOptions {
  std::string strategy = "greedy";  // greedy | importance | uniform | random
  double max_drop = 0.05;           // P_min = base * (1 - max_drop)
  std::optional<double> min_score;  // P_min given directly
  int64_t replace = -1;             // stop after this many replaced layers (-1: no limit)
  uint64_t seed = 0;                // random strategy
  // --stop-on-significant-drop: when set, a round whose best candidate falls under P_min stops the
  // search only if this says the drop from the current model is significant (search_run: more
  // than 2 paired standard errors over documents); otherwise the candidate is accepted and the
  // search goes on (so M_opt may then score under P_min, within noise of it). Unset: P_min alone.
  std::function<bool(const LayerSet& candidate, const LayerSet& current)> significant_drop;
};

struct Evaluated {
  LayerSet layers;
  double score = 0;
  double seconds = 0;
};

struct Round {
  int64_t index = 0;                  // 1-based round (number of linear layers if accepted)
  std::vector<Evaluated> candidates;  // every model scored this round
  int64_t chosen = -1;                // layer added, or -1 when the round stopped the search
  double score = 0;                   // score of the chosen (or best rejected) candidate
  bool accepted = false;
  double seconds = 0;
};

struct SearchResult {
  std::string strategy;
  double base = 0, p_min = 0;
  std::vector<Round> rounds;
  Evaluated best, opt;  // M_best, M_opt
  std::string stop_reason;
  nlohmann::json to_json() const;  // summary.json
};

// Scores the model with exactly `layers` replaced. Must be deterministic. `extends` is the model
// the candidate adds one layer to (greedy's current model; empty when there is none), so a
// scorer can reuse what it computed for that model (prefix caching).
using ScoreFn = std::function<double(const LayerSet& layers, const LayerSet& extends)>;

// Scores several candidates that all extend `extends` (one round), returning (score, seconds) of
// each in order: how a round is spread over several processes (search_run's distributed_round:
// candidate i on rank i mod N, the scores all-gathered). Without one, candidates are scored one by one with ScoreFn.
// Thrown when a ScoreJournal's stop check says so (a signal): see ScoreJournal::set_stop.
struct SearchInterrupted : std::exception {
  SearchInterrupted(int64_t kept, std::filesystem::path journal) : kept(kept), journal(std::move(journal)) {}
  const char* what() const noexcept override { return "search interrupted"; }
  int64_t kept;                  // scores in the journal
  std::filesystem::path journal;
};

struct Scored {
  double score = 0, seconds = 0;
};
// Called by a ScoreManyFn as each candidate's score becomes known (`index` into its candidates), so
// that the journal keeps it even if the process is killed before the round ends. One process
// reports each candidate as it is scored; with --gpus each rank reports its own and learns the
// others' at the round's all-gather (so rank 0's journal keeps its own share of a killed round).
// Scores a ScoreManyFn returns without reporting are journalled when it returns.
using ScoredFn = std::function<void(size_t index, const Scored& scored)>;
using ScoreManyFn = std::function<std::vector<Scored>(const std::vector<LayerSet>& candidates, const LayerSet& extends,
                                                      const ScoredFn& on_scored)>;

// Remembers every score (keyed by layer set) and appends each to a JSONL journal as soon as it
// is known, so an interrupted search resumes from the last finished candidate: replaying the
// deterministic algorithm over the journal reaches the same point without rescoring.
//
// Each score is one line appended whole (util/files' AppendFile: a failed write is cut back and
// stops the search with "FILE: write failed: ..."). A resume drops an incomplete last line (a run
// killed mid-append) with a warning naming the file and line, and cuts the file back to its last
// complete line before appending, so that every later resume replays every score; a damaged
// complete line is refused, naming the file and line.
class ScoreJournal {
 public:
  // write = false: read the journal on resume but never write it (the ranks but 0 of a --gpus run).
  explicit ScoreJournal(std::filesystem::path path = {}, bool resume = false, bool write = true);
  // Asked before each candidate that is not in the journal is scored, and before each round given
  // to a ScoreManyFn: true stops the search by throwing SearchInterrupted, every score made so far
  // journalled. A ScoreManyFn may return the scores of its first candidates only when this is true
  // (it saw the request between two candidates); they are journalled before the throw.
  void set_stop(std::function<bool()> stop) { stop_ = std::move(stop); }
  int64_t size() const { return static_cast<int64_t>(known_.size()); }  // scores known (journalled or replayed)
  double score(const LayerSet& layers, const ScoreFn& fn, double* seconds, const LayerSet& extends = {});
  // Several candidates at once: the known ones from the journal, the others through `many` (or
  // `fn` one by one when `many` is empty), each journalled as soon as it is known.
  std::vector<Scored> score_all(const std::vector<LayerSet>& candidates, const ScoreFn& fn, const ScoreManyFn& many,
                                const LayerSet& extends);
  int64_t replayed() const { return replayed_; }  // scores taken from the journal

 private:
  void record(const LayerSet& layers, double score, double seconds);
  void read(bool cut_torn_line);
  void stop_if_asked();
  std::filesystem::path path_;
  bool write_ = true;
  AppendFile file_;
  std::function<bool()> stop_;
  std::map<LayerSet, std::pair<double, double>> known_;  // layers -> (score, seconds)
  int64_t replayed_ = 0;
};

// Called after each round (to write trajectory.jsonl as the search goes).
using RoundCallback = std::function<void(const Round&)>;

// `score_many` (optional) scores each greedy round's (and importance's) candidates together; the
// result is the same as with `score` alone.
SearchResult run_search(int64_t num_layers, const ScoreFn& score, const SearchOptions& opt,
                        ScoreJournal& journal, const RoundCallback& on_round = nullptr,
                        const ScoreManyFn& score_many = nullptr);

// The evenly interleaved placement of k linear layers among L: layer floor((2i+1) L / 2k).
LayerSet uniform_placement(int64_t num_layers, int64_t k);

}  // namespace hyb
