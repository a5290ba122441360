// search/task_scorer: the ScoreFn of the greedy search on real tasks. Each task's requests are
// built and planned into batches once; every candidate (the current model with one more layer
// swapped for its distilled module) is scored on the same batches. Several tasks give a weighted
// mean of their metrics (multi-task search), with standard errors combined by weight.
//
// Prefix caching: a candidate that swaps layer l changes nothing below l, so at the start of
// each round the current model is run once with the hidden states entering every layer kept
// (per batch pass), and candidate l runs only layers l..L-1 from the kept states. Candidates
// cost (L - l) / L of a forward on average about half; the round pays one extra forward (less
// the last layer), and only where the round's candidates save more than that (plan_round).
// The kept states are the very tensors an uncached run computes, so scores are identical.
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "search/layer_swapper.h"
#include "search/search.h"
#include "search/uncertainty.h"

namespace hyb {

class CausalLM;
class TokenMixer;

// One task of a (multi-task) search: its spec, the options its requests are built with (split,
// limit, ...), and its weight in the search's score.
struct WeightedTask {
  eval::TaskSpec task;
  eval::EvalOptions opt;
  double weight = 1;
};

class TaskScorer {
 public:
  // `linear_file`: the distilled modules (linear.safetensors); `metric`: "acc" or "acc_norm" (or
  // any metric every task reports). The score is sum_t weight_t * metric_t over `tasks` (weights
  // as given: search_run normalises them to sum 1); one task of weight 1 is its metric exactly.
  TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
             const std::vector<WeightedTask>& tasks, std::string metric, bool prefix_cache);
  // One task of weight 1.
  TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
             const eval::TaskSpec& task, const eval::EvalOptions& opt, std::string metric, bool prefix_cache);
  ~TaskScorer();

  // The (weighted) metric with exactly `layers` linear (all others full attention).
  // `extends`: the model the candidate adds one layer to (the prefix cache's model).
  double score(const LayerSet& layers, const LayerSet& extends);
  // Tells the scorer which candidates extending `extends` it is about to score, so that it
  // captures the prefix cache only where that pays: the capture costs L-1 layers, candidate l
  // saves l of them. Deep models always gain; a 5-layer model's late rounds do not. Without a
  // plan every candidate above layer 0 uses the cache.
  void plan_round(const std::vector<LayerSet>& candidates, const LayerSet& extends);
  int64_t num_documents() const;  // over all tasks
  int64_t num_documents(size_t task) const { return static_cast<int64_t>(tasks_.at(task).instances.size()); }
  size_t num_tasks() const { return tasks_.size(); }
  int64_t num_batches() const;  // over all tasks: a score() runs them all
  // Called after each batch that score() runs (a progress bar counts them); none by default.
  void set_on_batch(std::function<void()> f) { on_batch_ = std::move(f); }
  // Whether the metric is a mean over documents (acc, acc_norm: 0 or 1 each), so that standard
  // errors and paired differences per document exist (not perplexity).
  bool per_document_metric() const { return metric_ == "acc" || metric_ == "acc_norm"; }
  // Each task's metric for `layers` as this scorer last scored it; null when this scorer has not
  // scored `layers` (a score replayed from the journal, or one scored by another process).
  const std::vector<double>* known_task_scores(const LayerSet& layers) const;
  // The score of `layers` with its standard error (each task's over its documents, combined by
  // weight: search/uncertainty), when the metric is per document and this scorer scored `layers`.
  std::optional<MeanSE> known_mean_se(const LayerSet& layers) const;
  // `layers` minus `against`, paired per document within each task, then weighted; nullopt
  // unless both are known as above.
  std::optional<MeanSE> known_paired(const LayerSet& layers, const LayerSet& against) const;
  // The same, scoring either now (deterministically, as score() would) when it is not known.
  MeanSE paired(const LayerSet& layers, const LayerSet& against);
  // Chance level of the metric: per task the mean over documents of 1 / choices (multiple-choice
  // tasks with a per-document metric), weighted; nullopt otherwise.
  std::optional<double> chance() const;
  double full_forwards() const { return layer_passes_ / static_cast<double>(num_layers_); }

 private:
  // One task: its requests planned once, its prefix cache, its per-document results.
  struct Part {
    eval::TaskSpec task;
    double weight = 1;
    std::vector<eval::Instance> instances;
    std::vector<eval::Batch> batches;
    size_t flat_size = 0;
    std::vector<std::vector<std::vector<at::Tensor>>> hidden;  // [batch][pass][layer] for cached_for_
    std::map<LayerSet, std::vector<double>> per_doc;           // per-document metric of every scored set
  };
  double metric_of(const Part& part, const std::vector<eval::Score>& scores) const;
  void capture(const LayerSet& current);  // prefix cache for the current model
  const std::vector<double>* known_per_document(const Part& part, const LayerSet& layers) const;

  CausalLM& model_;
  std::string metric_;
  bool prefix_cache_;
  int64_t num_layers_ = 0;
  double layer_passes_ = 0;  // layers run, summed over documents' batches (cost counter)
  std::vector<Part> tasks_;
  std::unique_ptr<LayerSwapper> swap_;  // the distilled modules, swapped in and out
  LayerSet cached_for_;      // the prefix cache's model
  bool have_cache_ = false;
  LayerSet planned_for_;     // plan_round's model, and
  bool planned_ = false;     // whether a plan exists for it and
  bool plan_uses_cache_ = true;  // what it decided
  std::map<LayerSet, std::vector<double>> task_scores_;  // every scored set's metric per task
  std::function<void()> on_batch_;
};

}  // namespace hyb
