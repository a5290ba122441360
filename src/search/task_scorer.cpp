#include "search/task_scorer.h"

#include <torch/torch.h>

#include "linear/linear_file.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb {

TaskScorer::TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
                       const std::vector<WeightedTask>& tasks, std::string metric, bool prefix_cache)
    : model_(model), metric_(std::move(metric)), prefix_cache_(prefix_cache), num_layers_(model.num_layers()) {
  if (model.config().num_linear_layers() > 0)
    fail("--model", "the search starts from a full-attention model (this one already has linear layers)");
  if (tasks.empty()) fail("--task", "the search needs a task");
  for (const auto& t : tasks)
    if (std::find(t.task.metrics.begin(), t.task.metrics.end(), metric_) == t.task.metrics.end())
      fail("--metric", "task {} has no metric '{}'", t.task.name, metric_);

  // Every stored layer's distilled module, built from the file's settings, in the model's dtype.
  const LinearFile file = LinearFile::open(linear_file);
  file.check_fits(model.config());
  std::map<int64_t, std::unique_ptr<TokenMixer>> modules;
  for (int64_t l : file.layers()) modules[l] = file.module(l, model.device(), model.dtype());
  swap_ = std::make_unique<LayerSwapper>(model, std::move(modules), file.settings_json());

  // Each task's requests, planned once with evaluate_task's planner (nothing is scored here: the
  // search's first score is the base's): every candidate is scored on the same batches. The plan
  // never shares a context pass between contexts of different lengths (rewindable = false), as
  // linear layers require, so the base and every hybrid run the same passes.
  for (const auto& t : tasks) {
    Part part;
    part.task = t.task;
    part.weight = t.weight;
    const eval::TaskResult prepared = eval::prepare_task(model, enc, t.task, t.opt);
    part.instances = prepared.instances;
    eval::RequestPlan requests = eval::plan_requests(model, prepared, t.opt);
    requests.plan.rewindable = false;
    part.batches = eval::plan_batches(requests.flat, requests.plan);
    part.flat_size = requests.flat.size();
    tasks_.push_back(std::move(part));
  }
}

TaskScorer::TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
                       const eval::TaskSpec& task, const eval::EvalOptions& opt, std::string metric,
                       bool prefix_cache)
    : TaskScorer(model, linear_file, enc, std::vector<WeightedTask>{{task, opt, 1.0}}, std::move(metric),
                 prefix_cache) {}

TaskScorer::~TaskScorer() = default;  // swap_ puts every attention back

int64_t TaskScorer::num_documents() const {
  int64_t n = 0;
  for (const auto& t : tasks_) n += static_cast<int64_t>(t.instances.size());
  return n;
}

int64_t TaskScorer::num_batches() const {
  int64_t n = 0;
  for (const auto& t : tasks_) n += static_cast<int64_t>(t.batches.size());
  return n;
}

double TaskScorer::metric_of(const Part& part, const std::vector<eval::Score>& scores) const {
  for (const auto& m : eval::aggregate(part.task, eval::score_docs(part.task, part.instances, scores)))
    if (m.name == metric_) return m.value;
  fail("--metric", "task {} did not report '{}'", part.task.name, metric_);
}

void TaskScorer::capture(const LayerSet& current) {
  swap_->set(current);
  for (auto& part : tasks_) {
    part.hidden.assign(part.batches.size(), {});
    for (size_t b = 0; b < part.batches.size(); ++b) {
      eval::RunHooks hooks;
      hooks.captured_all = &part.hidden[b];
      hooks.capture_only = true;
      eval::run_batch(model_, part.batches[b], hooks);
    }
  }
  layer_passes_ += num_layers_ - 1;  // the last layer is not run
  cached_for_ = current;
  have_cache_ = true;
}

// The layer a candidate adds to `extends`, or -1 when it is not `extends` plus one layer.
static int64_t added_layer(const LayerSet& layers, const LayerSet& extends) {
  if (extends.size() + 1 != layers.size() || !std::includes(layers.begin(), layers.end(), extends.begin(), extends.end()))
    return -1;
  for (int64_t l : layers)
    if (!std::binary_search(extends.begin(), extends.end(), l)) return l;
  return -1;
}

void TaskScorer::plan_round(const std::vector<LayerSet>& candidates, const LayerSet& extends) {
  int64_t saved = 0;  // layers the cache spares these candidates
  for (const auto& c : candidates) saved += std::max<int64_t>(0, added_layer(c, extends));
  planned_for_ = extends;
  planned_ = true;
  plan_uses_cache_ = saved > num_layers_ - 1;
}

double TaskScorer::score(const LayerSet& layers, const LayerSet& extends) {
  torch::NoGradGuard ng;
  // A candidate that adds layer l to `extends` runs layers l..L-1 from the states entering l.
  int64_t from = prefix_cache_ ? std::max<int64_t>(0, added_layer(layers, extends)) : 0;
  // Captured on the first candidate that starts above layer 0 (a candidate at layer 0 gains
  // nothing), unless the round's plan found that the capture costs more than it saves.
  if (from > 0 && !(have_cache_ && cached_for_ == extends)) {
    if (planned_ && planned_for_ == extends && !plan_uses_cache_) from = 0;
    else capture(extends);
  }
  swap_->set(layers);
  double total = 0;
  std::vector<double>& per_task = task_scores_[layers];
  per_task.clear();
  for (auto& part : tasks_) {
    std::vector<eval::Score> out(part.flat_size);
    for (size_t b = 0; b < part.batches.size(); ++b) {
      eval::RunHooks hooks;
      std::vector<at::Tensor> inputs;
      if (from > 0) {
        for (const auto& pass : part.hidden[b]) inputs.push_back(pass.at(from));
        hooks.from_layer = from;
        hooks.inputs = &inputs;
      }
      auto s = eval::run_batch(model_, part.batches[b], hooks);
      for (size_t i = 0; i < s.size(); ++i) out.at(part.batches[b].requests[i]) = s[i];
      if (on_batch_) on_batch_();
    }
    if (per_document_metric()) {
      std::vector<double>& v = part.per_doc[layers];
      v.clear();
      for (const auto& d : eval::score_docs(part.task, part.instances, out))
        v.push_back(metric_ == "acc" ? d.acc : d.acc_norm);
    }
    per_task.push_back(metric_of(part, out));
    total += part.weight * per_task.back();  // one task of weight 1: its metric exactly
  }
  layer_passes_ += num_layers_ - from;
  return total;
}

const std::vector<double>* TaskScorer::known_task_scores(const LayerSet& layers) const {
  auto it = task_scores_.find(layers);
  return it == task_scores_.end() ? nullptr : &it->second;
}

const std::vector<double>* TaskScorer::known_per_document(const Part& part, const LayerSet& layers) const {
  auto it = part.per_doc.find(layers);
  return it == part.per_doc.end() ? nullptr : &it->second;
}

std::optional<MeanSE> TaskScorer::known_mean_se(const LayerSet& layers) const {
  if (!per_document_metric()) return std::nullopt;
  std::vector<MeanSE> parts;
  std::vector<double> weights;
  for (const auto& part : tasks_) {
    const std::vector<double>* v = known_per_document(part, layers);
    if (!v) return std::nullopt;
    parts.push_back(mean_se(*v)), weights.push_back(part.weight);
  }
  return weighted_sum(parts, weights);
}

std::optional<MeanSE> TaskScorer::known_paired(const LayerSet& layers, const LayerSet& against) const {
  if (!per_document_metric()) return std::nullopt;
  std::vector<MeanSE> parts;
  std::vector<double> weights;
  for (const auto& part : tasks_) {
    const std::vector<double>*a = known_per_document(part, layers), *b = known_per_document(part, against);
    if (!a || !b) return std::nullopt;
    parts.push_back(paired_difference(*a, *b)), weights.push_back(part.weight);
  }
  return weighted_sum(parts, weights);
}

MeanSE TaskScorer::paired(const LayerSet& layers, const LayerSet& against) {
  if (!per_document_metric()) fail("--metric", "{} is not a mean over documents (acc, acc_norm)", metric_);
  if (!known_mean_se(layers)) score(layers, {});
  if (!known_mean_se(against)) score(against, {});
  return *known_paired(layers, against);
}

std::optional<double> TaskScorer::chance() const {
  if (!per_document_metric()) return std::nullopt;
  double total = 0;
  for (const auto& part : tasks_) {
    if (part.instances.empty()) return std::nullopt;
    double sum = 0;
    for (const auto& inst : part.instances) {
      if (inst.gold < 0 || inst.requests.empty()) return std::nullopt;
      sum += 1.0 / static_cast<double>(inst.requests.size());
    }
    total += part.weight * sum / static_cast<double>(part.instances.size());
  }
  return total;
}

}  // namespace hyb
