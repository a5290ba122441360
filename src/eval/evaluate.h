// eval: scoring a model on zero-shot multiple-choice tasks exactly as EleutherAI's
// lm-evaluation-harness does. The folder's parts, in the order data flows:
//   text      Python's string semantics (strip, len in code points) for prompts
//   template  the expression language task entries are written in
//   docs      reading task files (JSONL, llama.cpp's HellaSwag text, .bz2)
//   task      task entries (tasks.cpp: the built-in ones) and the engine that makes requests
//   requests  strings -> token ids (context/continuation split, left truncation)
//   scorer    batched log-likelihoods with shared contexts (plan.cpp: the batch planner)
//   metrics   acc, acc_norm, perplexity and their standard errors (bootstrap: the harness's)
//   evaluate  (this file) one task end to end (its request planner, plan_requests, is the search
//             scorer's too), and the harness-shaped results / samples files
//   cloze     a TinyStories cloze task generator (for tiny models)
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "eval/requests.h"
#include "eval/scorer.h"
#include "eval/task.h"

namespace hyb {
class CausalLM;
}

namespace hyb::eval {

struct EvalOptions {
  std::filesystem::path tasks_dir;  // holds <task>/<split>.jsonl
  std::string split;                // "" = the task's default split
  int64_t limit = 0;                // > 0: only the first `limit` documents
  int64_t num_fewshot = 0;
  int64_t max_length = 0;           // the model's window; 0 = config max_position_embeddings
  int64_t batch_size = 0;           // requests per batch; 0 = auto (token budget only)
  int64_t max_tokens = 0;           // padded tokens per batch; 0 = auto_token_budget
  bool share_contexts = true;
  bool progress = true;             // a progress bar on stderr
};

struct TaskResult {
  TaskSpec task;
  std::string split;
  std::filesystem::path file;
  int64_t n_original = 0;  // documents in the split
  std::vector<Instance> instances;
  std::vector<std::vector<TokenRequest>> tokens;  // per instance, per request
  std::vector<DocResult> docs;
  std::vector<Metric> metrics;
  double seconds = 0;      // scoring wall time (tokenisation excluded)
  double cpu_seconds = 0;  // process CPU time while scoring (meaningful on a busy machine)
  int64_t padded_tokens = 0;
};

// Documents, requests and their tokens (left-truncated to max_len when > 0); no model needed.
TaskResult prepare_task(const TaskSpec& task, const TextEncoder& enc, const EvalOptions& opt, int64_t max_len);
// prepare_task with the model's window (opt.max_length, else max_position_embeddings).
TaskResult prepare_task(const CausalLM& model, const TextEncoder& enc, const TaskSpec& task, const EvalOptions& opt);

// The request planner that evaluate_task and the search's scorer share: a prepared task's token
// requests flattened in instance order (owner[k]: the instance of request k), and the batch
// planner's options for them on `model` (opt.batch_size, the token budget, context sharing).
struct RequestPlan {
  std::vector<TokenRequest> flat;
  std::vector<int64_t> owner;
  PlanOptions plan;
};
RequestPlan plan_requests(const CausalLM& model, const TaskResult& prepared, const EvalOptions& opt);
// Every document's result from the scores of plan_requests' flat requests.
std::vector<DocResult> score_docs(const TaskSpec& task, const std::vector<Instance>& instances,
                                  const std::vector<Score>& scores);

// prepare_task, then scoring and metrics.
TaskResult evaluate_task(CausalLM& model, const TextEncoder& enc, const TaskSpec& task, const EvalOptions& opt);

// {"results": {task: {"acc,none": x, "acc_stderr,none": y, ...}}, "n-shot", "n-samples",
//  "configs", "higher_is_better", "config"} as lm-evaluation-harness writes it.
nlohmann::json results_json(const std::vector<TaskResult>& results, const nlohmann::json& config);
// One JSON line per document: doc_id, gold, prediction(s), requests with their log-likelihoods.
void write_samples(const std::vector<TaskResult>& results, const std::filesystem::path& file);
// One JSON line per request: task, doc_id, context, continuation, ctx_ids, cont_ids (for
// comparing tokenisation with the harness: tools/harness_xcheck.py tok).
void write_requests(const std::vector<TaskResult>& results, const std::filesystem::path& file);
// The harness's summary table (markdown) for stdout.
std::string results_table(const std::vector<TaskResult>& results);

}  // namespace hyb::eval
