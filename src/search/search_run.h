// search/search_run: `hybridize search` as one library call on a loaded model: the task scorer,
// each round spread over the processes of a --gpus group (candidate i on rank i mod N, the scores
// all-gathered), the journal (--resume), trajectory.jsonl, summary.json, the two plots and the
// M_best / M_opt hybrid directories. Only the group's root (or the one process) writes.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "eval/evaluate.h"
#include "search/search.h"
#include "search/task_scorer.h"

namespace hyb {

class CausalLM;
namespace dist {
class ProcessGroup;
}

struct SearchRunOptions {
  std::filesystem::path model_dir;  // the full-attention model (export reads it again)
  std::filesystem::path linear;     // linear.safetensors from `hybridize distill`
  std::filesystem::path out;        // the run directory
  std::string metric = "acc";       // acc | acc_norm
  bool resume = false, prefix_cache = true;
  bool progress = true;  // a bar with ETA on stderr (root only) while the base and each round are scored
  // Stop under P_min only when the drop from the current model exceeds 2 paired standard errors
  // over documents (search/uncertainty); needs a per-document metric (acc, acc_norm).
  bool stop_on_significant_drop = false;
  SearchOptions search;
};

struct SearchRunResult {
  SearchResult result;
  nlohmann::json summary;  // summary.json (root only)
  double seconds = 0;
  double full_forwards = 0;  // over all processes
  int64_t replayed = 0;      // scores taken from the journal
};

struct ModelFingerprint;

// The tasks a search scores, from --task NAME[,NAME...], --task-weights (default: equal; any
// positive numbers, normalised to sum 1) and --data (one task's file: with a single task only).
// Each task gets `eo` with, when no --split and no --data is given, its validation split if it has
// one (the paper's protocol), else its default. Throws hyb::Error naming the flag.
std::vector<WeightedTask> search_tasks(const std::string& names, const std::vector<double>& weights,
                                       const std::string& data, const eval::EvalOptions& eo);

// What a resumed run must share with the run it resumes (written to OUT/search_settings.json and
// summary.json's "settings"): the model's and the modules file's fingerprints (io/fingerprint),
// the tasks (comma-separated, as --task takes them; with several, their normalised
// "task_weights"), the --data file's fingerprint, split(s), limit, few-shot count, metric,
// strategy and thresholds. A one-task run records what it recorded before multi-task search.
nlohmann::json search_settings(const ModelFingerprint& model, const std::vector<WeightedTask>& tasks,
                               const SearchRunOptions& o);
// Throws hyb::Error naming the settings file and the flag whose value differs between `now` and
// the run recorded in OUT (search_settings.json, else summary.json's "settings"). A run that
// recorded none is accepted with a one-line warning.
void check_resume_settings(const std::filesystem::path& out, const nlohmann::json& now);

// Runs the search on the weighted mean of `tasks`' scores (search_tasks) and writes the run
// directory, holding its lock (util/files' OutputLock) meanwhile. Prints the run's header and a line
// per round on stderr (root only). SIGINT / SIGTERM stop it between two candidates: SearchInterrupted
// is thrown, every score made in the journal and nothing else written (util/interrupt tells the
// signal). The hybrids are published (renamed into place whole) before summary.json, which names
// them, is written. Refuses modules distilled from another model, and a --resume whose settings
// differ (check_resume_settings). Every rank returns; only the root's result carries the summary.
// Throws hyb::Error for bad options or files.
SearchRunResult run_search_dir(CausalLM& model, const eval::TextEncoder& enc, const std::vector<WeightedTask>& tasks,
                               const SearchRunOptions& o, dist::ProcessGroup* group);
// One task of weight 1 (requests from `eo`).
SearchRunResult run_search_dir(CausalLM& model, const eval::TextEncoder& enc, const eval::TaskSpec& task,
                               const eval::EvalOptions& eo, const SearchRunOptions& o, dist::ProcessGroup* group);

// A round over the processes of `group` (null: one process): candidate i on rank i mod N, each
// rank planning its own candidates' prefix cache, (score, seconds) all-gathered. One process stops
// between two candidates when asked by a signal (the scores so far returned; see
// ScoreJournal::set_stop); a group stops between rounds, all its ranks agreeing.
ScoreManyFn distributed_round(TaskScorer& scorer, dist::ProcessGroup* group);

// trajectory.svg (score against linear layers, with P_min) and, for greedy, candidates.svg (every
// round's candidates by the layer they swap in).
void write_search_plots(const std::filesystem::path& out, const SearchResult& result, const std::string& task,
                        const std::string& strategy, const std::string& metric, int64_t num_layers);

}  // namespace hyb
