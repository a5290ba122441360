// hybridize search: greedy layer replacement (Algorithm 1) or a baseline, on a task's
// validation score; writes trajectory.jsonl, summary.json, plots and the M_best / M_opt hybrids.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <csignal>
#include <cstdlib>

#include "cli/checks.h"
#include "cli/commands.h"
#include "dist/launch.h"
#include "dist/process_group.h"
#include "io/config.h"
#include "model/model.h"
#include "search/export.h"
#include "search/search_run.h"
#include "tokenizer/tokenizer.h"
#include "util/interrupt.h"

namespace hyb::cli {

namespace {
struct SearchArgs {
  std::string model, linear, task, data, tasks_dir, split, metric = "acc", out, device = "auto", dtype, tokenizer;
  double max_drop = 0.05, min_score = -1;
  std::vector<double> task_weights;
  int64_t replace = -1, limit = 0, max_tokens = 0;
  std::string strategy = "greedy";
  uint64_t seed = 0;
  bool resume = false, no_prefix_cache = false, stop_on_significant_drop = false, no_progress = false;
  int threads = 0;
  dist::LaunchOptions parallel;
};

std::string layers_str(const LayerSet& s) {
  std::string r;
  for (auto l : s) r += (r.empty() ? "" : ",") + std::to_string(l);
  return r.empty() ? "-" : r;
}
}  // namespace

void add_search(CLI::App& app) {
  auto* cmd = app.add_subcommand("search", "Greedy layer replacement on a task (Distill-then-Replace phase 2)");
  auto a = std::make_shared<SearchArgs>();
  cmd->add_option("--model", a->model, "Full-attention model directory")->required();
  cmd->add_option("--linear", a->linear, "Distilled modules (linear.safetensors from hybridize distill)")->required();
  cmd->add_option("--task", a->task,
                  "Task name, or several comma-separated: the score is their weighted mean (see hybridize eval --list-tasks)")
      ->required();
  cmd->add_option("--task-weights", a->task_weights, "Weights of the --task list, comma-separated (default: equal; normalised to sum 1)")
      ->delimiter(',');
  cmd->add_option("--data", a->data, "The task's data file (a built-in task's fields, or the generic format; default: the task's in --tasks-dir)");
  cmd->add_option("--tasks-dir", a->tasks_dir, "Directory of <task>/<split>.jsonl (default $HYB_TASKS_DIR, else a development checkout's ../shared/data/tasks)");
  cmd->add_option("--split", a->split, "Split to search on (default: validation if the task has it)");
  cmd->add_option("--limit", a->limit, "Only the first N documents (0: all)")->check(non_negative());
  cmd->add_option("--metric", a->metric, "acc or acc_norm");
  auto* md = cmd->add_option("--max-drop", a->max_drop, "P_min = base * (1 - max_drop)")->check(number_in(0, 1, "a fraction from 0 to 1"));
  cmd->add_option("--min-score", a->min_score, "P_min given directly")->excludes(md);
  cmd->add_option("--replace", a->replace, "Stop after this many replaced layers")->check(number_in(-1, 1e9, "a layer count (-1: no limit)"));
  cmd->add_option("--strategy", a->strategy, "greedy | importance | uniform | random");
  cmd->add_option("--seed", a->seed, "Seed of the random strategy");
  cmd->add_option("--out", a->out, "Run directory")->required();
  cmd->add_flag("--resume", a->resume, "Continue an interrupted search from its last finished candidate");
  cmd->add_flag("--stop-on-significant-drop", a->stop_on_significant_drop,
                "Under P_min, stop only when the drop from the current model exceeds 2 paired standard errors "
                "over documents (acc, acc_norm); otherwise accept the layer and go on");
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache, "Recompute every layer for every candidate");
  cmd->add_flag("--no-progress", a->no_progress, "No progress bar");
  cmd->add_option("--max-tokens", a->max_tokens, "Padded tokens per batch (default: auto)")->check(non_negative());
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  add_parallel_options(cmd, a->parallel, "each round's candidates are split across them");
  cmd->callback([a] {
    torch::NoGradGuard ng;
    // --gpus N: the launcher exits here with its workers' code; a worker gets its group.
    auto group = dist::join_or_launch(a->parallel, a->device);
    auto model = load_model(a->model, a->device, a->dtype, a->threads);
    auto tok = Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
    auto enc = eval::TextEncoder::from(tok);
    eval::EvalOptions eo;
    eo.tasks_dir = eval::tasks_dir_or_default(a->tasks_dir);
    eo.split = a->split;
    eo.limit = a->limit;
    eo.max_tokens = a->max_tokens;
    eo.progress = false;
    // Each task on its validation split where it has one (search_tasks), with its weight.
    const std::vector<WeightedTask> tasks = search_tasks(a->task, a->task_weights, a->data, eo);
    SearchRunOptions o;
    o.model_dir = a->model;
    o.linear = a->linear;
    o.out = a->out;
    o.metric = a->metric;
    o.resume = a->resume;
    o.prefix_cache = !a->no_prefix_cache;
    o.progress = !a->no_progress;
    o.stop_on_significant_drop = a->stop_on_significant_drop;
    o.search.strategy = a->strategy;
    o.search.max_drop = a->max_drop;
    if (a->min_score >= 0) o.search.min_score = a->min_score;
    o.search.replace = a->replace;
    o.search.seed = a->seed;

    SearchRunResult run;
    try {
      run = run_search_dir(*model, enc, tasks, o, group.get());
    } catch (const SearchInterrupted& e) {  // ^C or SIGTERM: every score made is in the journal
      const int sig = StopOnSignal::signal_number() ? StopOnSignal::signal_number() : SIGTERM;
      if (!group || group->is_root())
        fmt::print(stderr, "search interrupted by signal {}: {} scores kept in {}; run again with --resume to continue\n",
                   sig, e.kept, e.journal.string());
      std::exit(128 + sig);  // 130 for ^C, 143 for SIGTERM
    }
    if (group && !group->is_root()) return;
    const SearchResult& result = run.result;
    fmt::print("base {:.4f}  P_min {:.4f}  ({})\n", result.base, result.p_min, result.stop_reason);
    // "+- SE" where the summary has one (a per-document metric, scored in this run).
    auto se = [&](const char* name) {
      const auto& j = run.summary[name];
      return j.contains("stderr") && j["stderr"].is_number() ? fmt::format(" +- {:.4f}", j["stderr"].get<double>())
                                                              : std::string();
    };
    fmt::print("M_best: {} linear layers [{}] score {:.4f}{}\n", result.best.layers.size(), layers_str(result.best.layers),
               result.best.score, se("M_best"));
    fmt::print("M_opt:  {} linear layers [{}] score {:.4f}{}\n", result.opt.layers.size(), layers_str(result.opt.layers),
               result.opt.score, se("M_opt"));
    fmt::print("{:.1f} s, {:.1f} full-forward equivalents{}\n", run.seconds, run.full_forwards,
               run.replayed ? fmt::format(", {} scores replayed from the journal", run.replayed) : "");
  });
}

void add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a hybrid model directory");
  struct Args {
    std::string model, linear, out, layers, to = "hybridize";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--model", a->model, "Base model directory")->required();
  cmd->add_option("--linear", a->linear, "Distilled modules (linear.safetensors)")->required();
  cmd->add_option("--layers", a->layers, "Layers to replace, e.g. 3,7,11 or 0-2,5, or all")->required();
  cmd->add_option("--out", a->out, "Hybrid model directory")->required();
  cmd->add_option("--to", a->to,
                  "Format: hybridize (loads in hybridize, and in transformers with trust_remote_code) or fla "
                  "(flash-linear-attention's GLA / GatedDeltaNet model classes; refused where fla cannot express it)")
      ->check(CLI::IsMember({"hybridize", "fla"}))
      ->capture_default_str();
  cmd->callback([a] {
    const HybridFormat format = a->to == "fla" ? HybridFormat::kFla : HybridFormat::kHybridize;
    export_hybrid_layers(a->model, a->linear, a->layers, a->out, format);
    fmt::print("wrote {} ({} format)\n", a->out, a->to);
  });
}

}  // namespace hyb::cli
