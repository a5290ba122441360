#include "search/task_scorer.h"

#include <torch/torch.h>

#include "linear/linear_file.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb {

TaskScorer::TaskScorer(CausalLM& model, const std::filesystem::path& linear_file, const eval::TextEncoder& enc,
                       const eval::TaskSpec& task, const eval::EvalOptions& opt, std::string metric,
                       bool prefix_cache)
    : model_(model), task_(task), metric_(std::move(metric)), prefix_cache_(prefix_cache),
      num_layers_(model.num_layers()) {
  if (model.config().num_linear_layers() > 0)
    fail("--model", "the search starts from a full-attention model (this one already has linear layers)");
  if (std::find(task.metrics.begin(), task.metrics.end(), metric_) == task.metrics.end())
    fail("--metric", "task {} has no metric '{}'", task.name, metric_);

  // Every stored layer's distilled module, built from the file's settings, in the model's dtype.
  const LinearFile file = LinearFile::open(linear_file);
  file.check_fits(model.config());
  std::map<int64_t, std::unique_ptr<TokenMixer>> modules;
  for (int64_t l : file.layers()) modules[l] = file.module(l, model.device(), model.dtype());
  swap_ = std::make_unique<LayerSwapper>(model, std::move(modules), file.settings_json());

  // The task's requests, planned once with evaluate_task's planner (nothing is scored here: the
  // search's first score is the base's): every candidate is scored on the same batches. The plan
  // never shares a context pass between contexts of different lengths (rewindable = false), as
  // linear layers require, so the base and every hybrid run the same passes.
  const eval::TaskResult prepared = eval::prepare_task(model, enc, task, opt);
  instances_ = prepared.instances;
  eval::RequestPlan requests = eval::plan_requests(model, prepared, opt);
  requests.plan.rewindable = false;
  batches_ = eval::plan_batches(requests.flat, requests.plan);
  flat_size_ = requests.flat.size();
}

TaskScorer::~TaskScorer() = default;  // swap_ puts every attention back

double TaskScorer::metric_of(const std::vector<eval::Score>& scores) const {
  for (const auto& m : eval::aggregate(task_, eval::score_docs(task_, instances_, scores)))
    if (m.name == metric_) return m.value;
  fail("--metric", "task {} did not report '{}'", task_.name, metric_);
}

void TaskScorer::capture(const LayerSet& current) {
  swap_->set(current);
  hidden_.assign(batches_.size(), {});
  for (size_t b = 0; b < batches_.size(); ++b) {
    eval::RunHooks hooks;
    hooks.captured_all = &hidden_[b];
    hooks.capture_only = true;
    eval::run_batch(model_, batches_[b], hooks);
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
  std::vector<eval::Score> out(flat_size_);
  for (size_t b = 0; b < batches_.size(); ++b) {
    eval::RunHooks hooks;
    std::vector<at::Tensor> inputs;
    if (from > 0) {
      for (const auto& pass : hidden_[b]) inputs.push_back(pass.at(from));
      hooks.from_layer = from;
      hooks.inputs = &inputs;
    }
    auto s = eval::run_batch(model_, batches_[b], hooks);
    for (size_t i = 0; i < s.size(); ++i) out.at(batches_[b].requests[i]) = s[i];
    if (on_batch_) on_batch_();
  }
  layer_passes_ += num_layers_ - from;
  if (per_document_metric()) {
    std::vector<double>& v = per_doc_[layers];
    v.clear();
    for (const auto& d : eval::score_docs(task_, instances_, out)) v.push_back(metric_ == "acc" ? d.acc : d.acc_norm);
  }
  return metric_of(out);
}

const std::vector<double>* TaskScorer::known_per_document(const LayerSet& layers) const {
  auto it = per_doc_.find(layers);
  return it == per_doc_.end() ? nullptr : &it->second;
}

const std::vector<double>& TaskScorer::per_document(const LayerSet& layers) {
  if (!per_document_metric()) fail("--metric", "{} is not a mean over documents (acc, acc_norm)", metric_);
  if (!known_per_document(layers)) score(layers, {});
  return per_doc_.at(layers);
}

std::optional<double> TaskScorer::chance() const {
  if (!per_document_metric() || instances_.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& inst : instances_) {
    if (inst.gold < 0 || inst.requests.empty()) return std::nullopt;
    sum += 1.0 / static_cast<double>(inst.requests.size());
  }
  return sum / static_cast<double>(instances_.size());
}

}  // namespace hyb
