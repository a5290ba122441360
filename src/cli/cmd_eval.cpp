// hybridize eval --model DIR --task arc_easy,piqa [--limit N] [--out results.json]: zero-shot
// scores by lm-evaluation-harness's rules (see docs/eval.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "eval/evaluate.h"
#include "eval/text.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb::cli {

namespace {
struct EvalArgs {
  std::string model, tokenizer, tasks, data, tasks_dir, split, out, samples, dump, device = "auto", dtype;
  std::string batch_size = "auto", layout = "shared";
  int64_t limit = 0, num_fewshot = 0, max_length = 0, max_tokens = 0;
  int threads = 0;
  bool list = false, no_progress = false, overwrite = false;
};

std::vector<eval::TaskSpec> resolve_tasks(const EvalArgs& a) {
  std::vector<std::string> names;
  for (const auto& n : eval::split(a.tasks, ","))
    if (!eval::py_strip(n).empty()) names.push_back(eval::py_strip(n));
  if (names.empty() && a.data.empty()) fail("--task", "give --task NAME[,NAME...] or --data FILE (see --list-tasks)");
  if (!a.data.empty() && names.size() > 1) fail("--data", "one file is one task; give a single --task with it");
  if (!a.data.empty())
    return {eval::resolve_task(names.empty() ? std::filesystem::path(a.data).stem().string() : names[0], a.data)};
  std::vector<eval::TaskSpec> out;
  for (const auto& n : names) out.push_back(eval::resolve_task(n, ""));
  return out;
}
}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Score a model on zero-shot tasks (lm-evaluation-harness rules)");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("--model", a->model, "Model directory (full or hybrid; default: none, needed unless --list-tasks or --dump-requests)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.json or its directory (default: --model)");
  cmd->add_option("--task", a->tasks, "Task name(s), comma-separated (see --list-tasks; default: the --data file's name)");
  cmd->add_option("--data", a->data, "One task's data file (JSONL: built-in task fields or the generic format; default: the task's in --tasks-dir)");
  cmd->add_option("--tasks-dir", a->tasks_dir, "Directory of <task>/<split>.jsonl (default $HYB_TASKS_DIR, else a development checkout's ../shared/data/tasks)");
  cmd->add_option("--split", a->split, "Split to score (default: test if the task has one, else validation)");
  cmd->add_option("--limit", a->limit, "Score only the first N documents of each task")->check(non_negative());
  cmd->add_option("--num-fewshot", a->num_fewshot, "Few-shot examples from the dev split (MMLU)")->check(non_negative());
  cmd->add_option("--batch-size", a->batch_size, "Requests per batch: N, or auto (a token budget from free memory)");
  cmd->add_option("--max-tokens", a->max_tokens, "Padded tokens per batch (overrides auto's budget)")->check(non_negative());
  cmd->add_option("--max-length", a->max_length, "Model window for left truncation (default: max_position_embeddings)")->check(non_negative());
  cmd->add_option("--layout", a->layout, "shared: each context computed once (default); rows: one row per request as the harness")
      ->check(CLI::IsMember({"shared", "rows"}));
  cmd->add_option("--out", a->out, "Results JSON file (lm-evaluation-harness shape; default: none)");
  cmd->add_option("--samples", a->samples, "Write one JSON line per document (requests, log-likelihoods, prediction, gold; default: none)");
  cmd->add_option("--dump-requests", a->dump,
                  "Write every request's token ids (untruncated unless --max-length) and exit: no model needed (default: none)");
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing --out, --samples or --dump-requests file");
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  cmd->add_flag("--list-tasks", a->list, "List the built-in tasks and exit");
  cmd->add_flag("--no-progress", a->no_progress, "No progress bar");
  cmd->callback([a] {
    if (a->list) {
      for (const auto& t : eval::builtin_tasks()) {
        std::string metrics;
        for (const auto& m : t.metrics) metrics += (metrics.empty() ? "" : ", ") + m;
        std::cout << fmt::format("{:<18} split {:<10} {}\n", t.name, t.split, metrics);
      }
      return;
    }
    require_new_output_files({{"--out", a->out}, {"--samples", a->samples}, {"--dump-requests", a->dump}},
                             {a->model, a->data, a->tokenizer}, a->overwrite);
    if (!a->dump.empty()) {  // tokenisation only: compare with the harness (tools/harness_xcheck.py)
      if (a->model.empty() && a->tokenizer.empty()) fail("--tokenizer", "give --tokenizer or --model");
      const Tokenizer tok = Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
      const auto enc = eval::TextEncoder::from(tok);
      eval::EvalOptions opt;
      opt.tasks_dir = eval::tasks_dir_or_default(a->tasks_dir);
      opt.split = a->split;
      opt.limit = a->limit;
      opt.num_fewshot = a->num_fewshot;
      std::vector<eval::TaskResult> prepared;
      for (const auto& t : resolve_tasks(*a)) prepared.push_back(eval::prepare_task(t, enc, opt, a->max_length));
      eval::write_requests(prepared, a->dump);
      return;
    }
    if (a->model.empty()) fail("--model", "required");
    torch::NoGradGuard ng;
    // Freed memory stays in the process (main's keep_freed_memory): on CPU that halved
    // pubmedqa's run time (17 s -> 8 s CPU for 100 documents on stories260K).
    eval::EvalOptions opt;
    opt.tasks_dir = eval::tasks_dir_or_default(a->tasks_dir);
    opt.split = a->split;
    opt.limit = a->limit;
    opt.num_fewshot = a->num_fewshot;
    opt.max_length = a->max_length;
    opt.max_tokens = a->max_tokens;
    opt.share_contexts = a->layout == "shared";
    opt.progress = !a->no_progress;
    if (a->batch_size != "auto") {
      try {
        opt.batch_size = std::stoll(a->batch_size);
      } catch (const std::exception&) {
        fail("--batch-size", "'{}' is neither a number nor auto", a->batch_size);
      }
      if (opt.batch_size <= 0) fail("--batch-size", "must be positive");
      if (opt.max_tokens == 0) opt.max_tokens = int64_t(1) << 40;  // N requests, however long
    }
    const auto tasks = resolve_tasks(*a);  // before loading the model: bad flags fail fast

    auto model = load_model(a->model, a->device, a->dtype, a->threads);
    const Tokenizer tok = Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
    const auto enc = eval::TextEncoder::from(tok);

    std::vector<eval::TaskResult> results;
    for (const auto& t : tasks) results.push_back(eval::evaluate_task(*model, enc, t, opt));

    std::cout << eval::results_table(results);
    nlohmann::json config = {{"model", a->model},
                             {"tokenizer", a->tokenizer.empty() ? a->model : a->tokenizer},
                             {"device", a->device},
                             {"dtype", dtype_name(model->dtype())},
                             {"batch_size", a->batch_size},
                             {"layout", a->layout},
                             {"limit", a->limit > 0 ? nlohmann::json(a->limit) : nlohmann::json()},
                             {"num_fewshot", a->num_fewshot},
                             {"max_length", a->max_length > 0 ? a->max_length : model->config().max_position_embeddings},
                             {"layer_types", model->config().layer_types}};
    if (!a->out.empty()) write_file_atomic(a->out, eval::results_json(results, config).dump(2) + "\n");
    if (!a->samples.empty()) eval::write_samples(results, a->samples);
  });
}

}  // namespace hyb::cli
