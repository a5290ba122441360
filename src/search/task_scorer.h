// search/task_scorer: the ScoreFn of the greedy search on a real task. The task's requests are
// built and planned into batches once; every candidate (the current model with one more layer
// swapped for its distilled module) is scored on the same batches.
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

namespace hyb {

class CausalLM;
class TokenMixer;

class TaskScorer {
 public:
  // `linear_file`: the distilled modules (linear.safetensors); `metric`: "acc" or "acc_norm".
  TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
             const eval::TaskSpec& task, const eval::EvalOptions& opt, std::string metric, bool prefix_cache);
  ~TaskScorer();

  // The task's metric with exactly `layers` linear (all others full attention).
  // `extends`: the model the candidate adds one layer to (the prefix cache's model).
  double score(const LayerSet& layers, const LayerSet& extends);
  // Tells the scorer which candidates extending `extends` it is about to score, so that it
  // captures the prefix cache only where that pays: the capture costs L-1 layers, candidate l
  // saves l of them. Deep models always gain; a 5-layer model's late rounds do not. Without a
  // plan every candidate above layer 0 uses the cache.
  void plan_round(const std::vector<LayerSet>& candidates, const LayerSet& extends);
  int64_t num_documents() const { return static_cast<int64_t>(instances_.size()); }
  int64_t num_batches() const { return static_cast<int64_t>(batches_.size()); }  // a score() runs them all
  // Called after each batch that score() runs (a progress bar counts them); none by default.
  void set_on_batch(std::function<void()> f) { on_batch_ = std::move(f); }
  // Whether the metric is a mean over documents (acc, acc_norm: 0 or 1 each), so that standard
  // errors and paired differences per document exist (not perplexity).
  bool per_document_metric() const { return metric_ == "acc" || metric_ == "acc_norm"; }
  // The metric's value per document for `layers` as this scorer last scored it; null when the
  // metric is not per document or this scorer has not scored `layers` (a score replayed from the
  // journal, or one scored by another process).
  const std::vector<double>* known_per_document(const LayerSet& layers) const;
  // The same, scoring `layers` now (deterministically, as score() would) when it is not known.
  const std::vector<double>& per_document(const LayerSet& layers);
  // Chance level of the metric: the mean over documents of 1 / choices (multiple-choice tasks
  // with a per-document metric); nullopt otherwise.
  std::optional<double> chance() const;
  double full_forwards() const { return layer_passes_ / static_cast<double>(num_layers_); }

 private:
  double metric_of(const std::vector<eval::Score>& scores) const;
  void capture(const LayerSet& current);  // prefix cache for the current model

  CausalLM& model_;
  eval::TaskSpec task_;
  std::string metric_;
  bool prefix_cache_;
  int64_t num_layers_ = 0;
  double layer_passes_ = 0;  // layers run, summed over documents' batches (cost counter)
  std::vector<eval::Instance> instances_;
  std::vector<eval::Batch> batches_;
  size_t flat_size_ = 0;
  std::unique_ptr<LayerSwapper> swap_;  // the distilled modules, swapped in and out
  // Prefix cache: for `cached_for_`, hidden states [batch][pass][layer].
  LayerSet cached_for_;
  bool have_cache_ = false;
  LayerSet planned_for_;     // plan_round's model, and
  bool planned_ = false;     // whether a plan exists for it and
  bool plan_uses_cache_ = true;  // what it decided
  std::vector<std::vector<std::vector<at::Tensor>>> hidden_;
  std::map<LayerSet, std::vector<double>> per_doc_;  // per-document metric of every scored set
  std::function<void()> on_batch_;
};

}  // namespace hyb
