// hybridize search: greedy layer replacement (Algorithm 1) or a baseline, on a task's
// validation score; writes trajectory.jsonl, summary.json, plots and the M_best / M_opt hybrids.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>

#include "cli/commands.h"
#include "dist/launch.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "search/export.h"
#include "search/task_scorer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"
#include "util/plot.h"

namespace hyb::cli {

namespace {
struct SearchArgs {
  std::string model, linear, task, data, tasks_dir, split, metric = "acc", out, device = "cpu", dtype, tokenizer;
  double max_drop = 0.05, min_score = -1;
  int64_t replace = -1, limit = 0, max_tokens = 0;
  std::string strategy = "greedy";
  uint64_t seed = 0;
  bool resume = false, no_prefix_cache = false;
  int threads = 0, gpus = 1;
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
  cmd->add_option("--task", a->task, "Task name (see hybridize eval --list-tasks)")->required();
  cmd->add_option("--data", a->data, "The task's data file (a built-in task's fields, or the generic format)");
  cmd->add_option("--tasks-dir", a->tasks_dir, "Directory of <task>/<split>.jsonl (default $HYB_TASKS_DIR, else ../shared/data/tasks)");
  cmd->add_option("--split", a->split, "Split to search on (default: validation if the task has it)");
  cmd->add_option("--limit", a->limit, "Only the first N documents");
  cmd->add_option("--metric", a->metric, "acc or acc_norm");
  auto* md = cmd->add_option("--max-drop", a->max_drop, "P_min = base * (1 - max_drop)");
  cmd->add_option("--min-score", a->min_score, "P_min given directly")->excludes(md);
  cmd->add_option("--replace", a->replace, "Stop after this many replaced layers");
  cmd->add_option("--strategy", a->strategy, "greedy | importance | uniform | random");
  cmd->add_option("--seed", a->seed, "Seed of the random strategy");
  cmd->add_option("--out", a->out, "Run directory")->required();
  cmd->add_flag("--resume", a->resume, "Continue an interrupted search from its last finished candidate");
  cmd->add_flag("--no-prefix-cache", a->no_prefix_cache, "Recompute every layer for every candidate");
  cmd->add_option("--max-tokens", a->max_tokens, "Padded tokens per batch (default: auto)");
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  cmd->add_option("--gpus", a->gpus,
                  "Processes, one per GPU (cuda:0..N-1; on --device cpu N Gloo processes): each round's candidates "
                  "are split across them")
      ->check(CLI::PositiveNumber);
  cmd->callback([a] {
    namespace fs = std::filesystem;
    torch::NoGradGuard ng;
    // --gpus N: the launcher exits here with its workers' code; a worker gets its group.
    auto group = dist::join_or_launch(a->gpus, a->device);
    const bool root = !group || group->is_root();
    auto model = load_model(a->model, a->device, a->dtype, a->threads);
    auto tok = Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
    auto enc = eval::TextEncoder::from(tok);

    eval::TaskSpec task;
    bool builtin = false;
    for (const auto& t : eval::builtin_tasks())
      if (t.name == a->task) task = t, builtin = true;
    if (!a->data.empty()) {
      if (builtin) task.data_file = a->data;
      else task = eval::generic_task(a->task, a->data);
    } else if (!builtin) {
      task = eval::find_task(a->task);  // throws, listing the known names
    }
    eval::EvalOptions eo;
    eo.tasks_dir = !a->tasks_dir.empty() ? fs::path(a->tasks_dir)
                   : std::getenv("HYB_TASKS_DIR") ? fs::path(std::getenv("HYB_TASKS_DIR"))
                                                 : fs::path("..") / "shared" / "data" / "tasks";
    eo.split = a->split;
    if (eo.split.empty() && a->data.empty()) {
      // Search on validation data when the task has it (the paper's protocol), else its default.
      if (fs::exists(eval::task_file(task, eo.tasks_dir, "validation"))) eo.split = "validation";
    }
    eo.limit = a->limit;
    eo.max_tokens = a->max_tokens;
    eo.progress = false;

    fs::create_directories(a->out);
    TaskScorer scorer(*model, a->linear, enc, task, eo, a->metric, !a->no_prefix_cache);
    SearchOptions so;
    so.strategy = a->strategy;
    so.max_drop = a->max_drop;
    if (a->min_score >= 0) so.min_score = a->min_score;
    so.replace = a->replace;
    so.seed = a->seed;
    // Only rank 0 writes: the journal (the others read it to resume), trajectory, summary, hybrids.
    ScoreJournal journal(fs::path(a->out) / "candidates.jsonl", a->resume, root);
    std::ofstream traj;
    if (root) traj.open(fs::path(a->out) / "trajectory.jsonl", std::ios::trunc);
    if (root)
      fmt::print(stderr, "search {} on {} ({} documents, metric {}), strategy {}{}\n", a->model, task.name,
                 scorer.num_documents(), a->metric, a->strategy,
                 group ? fmt::format(", {} processes", group->world_size()) : "");
    // A round over N processes: candidate i on rank i mod N; (score, seconds) all-gathered.
    // One process is the case W = 1. Each rank plans its own candidates' prefix cache.
    ScoreManyFn many = [&](const std::vector<LayerSet>& cands, const LayerSet& ext) {
        const size_t W = group ? group->world_size() : 1, R = group ? group->rank() : 0;
        std::vector<LayerSet> own;
        for (size_t i = R; i < cands.size(); i += W) own.push_back(cands[i]);
        scorer.plan_round(own, ext);
        std::vector<double> mine;
        for (size_t i = R; i < cands.size(); i += W) {
          const auto c0 = std::chrono::steady_clock::now();
          mine.push_back(scorer.score(cands[i], ext));
          mine.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count());
        }
        const auto all = group ? group->all_gather(mine) : std::vector<std::vector<double>>{mine};
        std::vector<Scored> out(cands.size());
        for (size_t i = 0; i < cands.size(); ++i) out[i] = {all[i % W].at(2 * (i / W)), all[i % W].at(2 * (i / W) + 1)};
        return out;
      };
    auto t0 = std::chrono::steady_clock::now();
    auto result = run_search(model->num_layers(), [&](const LayerSet& s, const LayerSet& e) { return scorer.score(s, e); },
                             so, journal, [&](const Round& r) {
      if (!root) return;
      nlohmann::json c = nlohmann::json::array();
      for (const auto& e : r.candidates) c.push_back({{"layers", e.layers}, {"score", e.score}, {"seconds", e.seconds}});
      traj << nlohmann::json{{"round", r.index}, {"candidates", c}, {"chosen", r.chosen}, {"score", r.score},
                             {"accepted", r.accepted}, {"seconds", r.seconds}}.dump() << "\n";
      traj.flush();
      fmt::print(stderr, "round {:>3}: best {:.4f} {} ({} candidates, {:.1f} s)\n", r.index, r.score,
                 r.accepted ? fmt::format("-> layer {} replaced", r.chosen) : std::string("under P_min: stop"),
                 r.candidates.size(), r.seconds);
    }, many);
    // Cost over all processes (a collective: every rank takes part before the others return).
    const double forwards =
        group ? group->all_reduce(std::vector<double>{scorer.full_forwards()}, dist::Reduce::kSum)[0]
              : scorer.full_forwards();
    if (!root) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto summary = result.to_json();
    summary["task"] = task.name;
    summary["metric"] = a->metric;
    summary["documents"] = scorer.num_documents();
    summary["seconds"] = seconds;
    summary["replayed_from_journal"] = journal.replayed();
    summary["full_forward_equivalents"] = forwards;
    summary["processes"] = group ? group->world_size() : 1;
    summary["prefix_cache"] = !a->no_prefix_cache;

    // Plots: score against the number of linear layers; every round's candidates by layer.
    PlotSeries traj_s{"score", {0}, {result.base}};
    for (const auto& r : result.rounds)
      if (r.accepted) traj_s.x.push_back(r.index), traj_s.y.push_back(r.score);
    PlotSeries pmin{"P_min", {0, double(model->num_layers())}, {result.p_min, result.p_min}};
    write_svg_line_plot(fs::path(a->out) / "trajectory.svg", {traj_s, pmin},
                        {task.name + ": " + a->strategy, "linear layers", a->metric});
    if (a->strategy == "greedy") {
      std::vector<PlotSeries> rounds;
      for (const auto& r : result.rounds) {
        PlotSeries s{"round " + std::to_string(r.index), {}, {}};
        for (const auto& c : r.candidates) {
          // The candidate's new layer is the one not replaced before this round.
          int64_t added = c.layers.back();
          for (auto l : c.layers) {
            bool before = false;
            for (const auto& rr : result.rounds)
              if (rr.index < r.index && rr.chosen == l) before = true;
            if (!before) added = l;
          }
          s.x.push_back(added);
          s.y.push_back(c.score);
        }
        rounds.push_back(s);
      }
      write_svg_line_plot(fs::path(a->out) / "candidates.svg", rounds,
                          {task.name + ": candidate scores per round", "layer swapped in", a->metric});
    }
    // The two hybrids.
    for (const auto& [name, e] : {std::pair<std::string, Evaluated>{"M_best", result.best}, {"M_opt", result.opt}}) {
      export_hybrid(a->model, a->linear, e.layers, fs::path(a->out) / name);
      summary[name]["dir"] = (fs::path(a->out) / name).string();
    }
    write_file_atomic(fs::path(a->out) / "summary.json", summary.dump(2) + "\n");
    fmt::print("base {:.4f}  P_min {:.4f}  ({})\n", result.base, result.p_min, result.stop_reason);
    fmt::print("M_best: {} linear layers [{}] score {:.4f}\n", result.best.layers.size(), layers_str(result.best.layers), result.best.score);
    fmt::print("M_opt:  {} linear layers [{}] score {:.4f}\n", result.opt.layers.size(), layers_str(result.opt.layers), result.opt.score);
    fmt::print("{:.1f} s, {:.1f} full-forward equivalents{}\n", seconds, forwards,
               journal.replayed() ? fmt::format(", {} scores replayed from the journal", journal.replayed()) : "");
  });
}

void add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a hybrid model directory");
  struct Args {
    std::string model, linear, out;
    std::vector<int64_t> layers;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--model", a->model, "Base model directory")->required();
  cmd->add_option("--linear", a->linear, "Distilled modules (linear.safetensors)")->required();
  cmd->add_option("--layers", a->layers, "Layers to replace, e.g. 3,7,11")->delimiter(',')->required();
  cmd->add_option("--out", a->out, "Hybrid model directory")->required();
  cmd->callback([a] {
    export_hybrid(a->model, a->linear, a->layers, a->out);
    fmt::print("wrote {} ({} linear layers)\n", a->out, a->layers.size());
  });
}

}  // namespace hyb::cli
