#include "search/search_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>

#include "dist/process_group.h"
#include "io/fingerprint.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "eval/text.h"
#include "search/uncertainty.h"
#include "util/error.h"
#include "util/json.h"
#include "util/files.h"
#include "util/interrupt.h"
#include "util/plot.h"
#include "util/progress.h"

namespace hyb {
namespace fs = std::filesystem;

ScoreManyFn distributed_round(TaskScorer& scorer, dist::ProcessGroup* group) {
  // One process is the case W = 1. Each rank plans its own candidates' prefix cache.
  return [&scorer, group](const std::vector<LayerSet>& cands, const LayerSet& ext, const ScoredFn& on_scored) {
    const size_t W = group ? group->world_size() : 1, R = group ? group->rank() : 0;
    std::vector<LayerSet> own;
    for (size_t i = R; i < cands.size(); i += W) own.push_back(cands[i]);
    scorer.plan_round(own, ext);
    std::vector<double> mine;
    if (!group) {  // one process: each score journalled as it comes; may stop between candidates
      std::vector<Scored> out;
      for (const auto& c : cands) {
        if (StopOnSignal::stop_requested()) break;
        const auto c0 = std::chrono::steady_clock::now();
        const double s = scorer.score(c, ext);
        out.push_back({s, std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count()});
        on_scored(out.size() - 1, out.back());
      }
      return out;
    }
    // Several processes: each reports its own candidates as it scores them (rank 0's journal keeps
    // them if the run is killed mid-round), the others' scores arrive at the round's all-gather.
    for (size_t i = R; i < cands.size(); i += W) {
      const auto c0 = std::chrono::steady_clock::now();
      mine.push_back(scorer.score(cands[i], ext));
      mine.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count());
      on_scored(i, {mine[mine.size() - 2], mine.back()});
    }
    const auto all = group ? group->all_gather(mine) : std::vector<std::vector<double>>{mine};
    std::vector<Scored> out(cands.size());
    for (size_t i = 0; i < cands.size(); ++i) out[i] = {all[i % W].at(2 * (i / W)), all[i % W].at(2 * (i / W) + 1)};
    return out;
  };
}

void write_search_plots(const fs::path& out, const SearchResult& result, const std::string& task,
                        const std::string& strategy, const std::string& metric, int64_t num_layers) {
  // Plots: score against the number of linear layers; every round's candidates by layer.
  PlotSeries traj_s{"score", {0}, {result.base}};
  for (const auto& r : result.rounds)
    if (r.accepted) traj_s.x.push_back(r.index), traj_s.y.push_back(r.score);
  PlotSeries pmin{"P_min", {0, double(num_layers)}, {result.p_min, result.p_min}};
  write_svg_line_plot(out / "trajectory.svg", {traj_s, pmin}, {task + ": " + strategy, "linear layers", metric});
  if (strategy != "greedy") return;
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
  write_svg_line_plot(out / "candidates.svg", rounds, {task + ": candidate scores per round", "layer swapped in", metric});
}

std::vector<WeightedTask> search_tasks(const std::string& names, const std::vector<double>& weights,
                                       const std::string& data, const eval::EvalOptions& eo) {
  std::vector<std::string> list;
  for (const auto& n : eval::split(names, ","))
    if (!n.empty()) list.push_back(n);
  if (list.empty()) fail("--task", "give a task, or several comma-separated (see hybridize eval --list-tasks)");
  if (!data.empty() && list.size() > 1) fail("--data", "one file is one task; give a single --task with it");
  for (size_t i = 0; i < list.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (list[i] == list[j]) fail("--task", "{} is named twice", list[i]);
  if (!weights.empty() && weights.size() != list.size())
    fail("--task-weights", "{} weights for {} tasks ({}): give one per task, in the same order", weights.size(),
         list.size(), names);
  double sum = 0;
  for (double w : weights) {
    if (!std::isfinite(w) || w <= 0) fail("--task-weights", "{} is not a positive number", w);
    sum += w;
  }
  std::vector<WeightedTask> tasks;
  for (size_t i = 0; i < list.size(); ++i) {
    WeightedTask t{eval::resolve_task(list[i], data), eo, weights.empty() ? 1.0 / double(list.size()) : weights[i] / sum};
    // Search on validation data when the task has it (the paper's protocol), else its default.
    if (t.opt.split.empty() && data.empty() && fs::exists(eval::task_file(t.task, eo.tasks_dir, "validation")))
      t.opt.split = "validation";
    tasks.push_back(std::move(t));
  }
  return tasks;
}

namespace {

// "a,b,c" of each task's `part`, as --task takes a list.
template <typename F>
std::string joined(const std::vector<WeightedTask>& tasks, F part) {
  std::string r;
  for (size_t i = 0; i < tasks.size(); ++i) r += (i ? "," : "") + part(tasks[i]);
  return r;
}

std::string split_of(const WeightedTask& t) { return t.opt.split.empty() ? t.task.split : t.opt.split; }

}  // namespace

nlohmann::json search_settings(const ModelFingerprint& model, const std::vector<WeightedTask>& tasks,
                               const SearchRunOptions& o) {
  using nlohmann::json;
  const WeightedTask& first = tasks.at(0);  // limit and few-shot count are every task's
  json s = {{"model", model.str()},
            {"task", joined(tasks, [](const WeightedTask& t) { return t.task.name; })},
            {"data", first.task.data_file.empty() ? json(nullptr) : json(file_fingerprint(first.task.data_file))},
            {"split", joined(tasks, split_of)},
            {"limit", first.opt.limit},
            {"num_fewshot", first.opt.num_fewshot},
            {"metric", o.metric},
            {"linear", file_fingerprint(o.linear)},
            {"strategy", o.search.strategy},
            {"max_drop", o.search.max_drop},
            {"min_score", o.search.min_score ? json(*o.search.min_score) : json(nullptr)},
            {"replace", o.search.replace},
            {"seed", o.search.seed},
            {"stop_on_significant_drop", o.stop_on_significant_drop}};
  if (tasks.size() > 1) {
    json w = json::array();
    for (const auto& t : tasks) w.push_back(t.weight);
    s["task_weights"] = w;
  }
  return s;
}

namespace {

// The flag that sets each of search_settings' keys.
std::string settings_flag(const std::string& key) {
  static const std::map<std::string, std::string> flags = {
      {"model", "--model"},   {"task", "--task"},         {"data", "--data"},         {"split", "--split"},
      {"limit", "--limit"},   {"num_fewshot", "--num-fewshot"}, {"metric", "--metric"}, {"linear", "--linear"},
      {"strategy", "--strategy"}, {"max_drop", "--max-drop"}, {"min_score", "--min-score"},
      {"replace", "--replace"}, {"seed", "--seed"}, {"stop_on_significant_drop", "--stop-on-significant-drop"},
      {"task_weights", "--task-weights"}};
  auto it = flags.find(key);
  return it == flags.end() ? key : it->second;
}

// `round` with a progress bar on stderr while it scores (`show`: on a terminal, or a plain line
// every few seconds in a log): "base" for the base model, "round k" for candidates of k layers,
// counting this process's batches. The bar is erased when the round is scored: its line follows.
ScoreManyFn with_progress(ScoreManyFn round, TaskScorer& scorer, dist::ProcessGroup* group, bool show) {
  return [round = std::move(round), &scorer, group, show](const std::vector<LayerSet>& cands, const LayerSet& ext,
                                                          const ScoredFn& on_scored) {
    const size_t W = group ? group->world_size() : 1, R = group ? group->rank() : 0;
    const int64_t own = static_cast<int64_t>((cands.size() + W - 1 - R) / W);  // candidates i = R mod W
    const bool base = cands.size() == 1 && cands[0].empty();
    Progress bar(base ? "base" : fmt::format("round {}", cands[0].size()), own * scorer.num_batches(), "batches",
                 show ? Progress::Mode::kAuto : Progress::Mode::kSilent);
    bar.update(0, base ? "scoring the full model" : fmt::format("{} candidates", cands.size()));
    scorer.set_on_batch([&bar] { bar.add(1); });
    std::vector<Scored> scored = round(cands, ext, on_scored);
    scorer.set_on_batch(nullptr);
    bar.clear();
    return scored;
  };
}

}  // namespace

void check_resume_settings(const fs::path& out, const nlohmann::json& now) {
  const fs::path file = out / "search_settings.json", summary = out / "summary.json";
  nlohmann::json then;
  fs::path from;
  if (fs::exists(file)) {
    then = read_json_file(file), from = file;
  } else if (fs::exists(summary)) {
    const auto s = read_json_file(summary);
    if (s.contains("settings")) then = s["settings"], from = summary;
  }
  if (from.empty()) {
    fmt::print(stderr, "warning: {}: records no search settings (a run from before they were recorded); "
                       "--resume not checked against them\n", out.string());
    return;
  }
  // What the run is (model, modules, tasks) is named before how it was run: another --task list
  // also changes the splits, and the message names the first difference.
  std::vector<std::string> keys = {"model", "linear", "task", "task_weights", "data"};
  for (const auto& [key, value] : now.items())
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  for (const auto& key : keys) {
    if (!now.contains(key)) continue;
    const nlohmann::json& value = now[key];
    if (key == "model" || key == "linear") {
      if (then.contains(key) && then[key] != value)
        fail(from.string(), "--resume with another {} than the run it resumes (fingerprint {} there, {} now)",
             settings_flag(key), then[key].dump(), value.dump());
    } else if (!then.contains(key) || then[key] != value) {
      fail(from.string(), "--resume with another {} than the run it resumes ({} there, {} now)", settings_flag(key),
           then.contains(key) ? then[key].dump() : "nothing", value.dump());
    }
  }
}

SearchRunResult run_search_dir(CausalLM& model, const eval::TextEncoder& enc, const eval::TaskSpec& task,
                               const eval::EvalOptions& eo, const SearchRunOptions& o, dist::ProcessGroup* group) {
  return run_search_dir(model, enc, std::vector<WeightedTask>{{task, eo, 1.0}}, o, group);
}

SearchRunResult run_search_dir(CausalLM& model, const eval::TextEncoder& enc, const std::vector<WeightedTask>& tasks,
                               const SearchRunOptions& o, dist::ProcessGroup* group) {
  if (tasks.empty()) fail("--task", "the search needs a task");
  const bool root = !group || group->is_root();
  // A run directory is the search's own: a non-empty one is refused unless resumed (its M_best /
  // M_opt and journal are then replaced by this run's).
  OutputLock lock;
  if (root) lock = OutputLock::acquire("--out", o.out);
  if (root && !o.resume)
    require_new_output_dir("--out", o.out, {o.model_dir, o.linear}, "pass --resume to continue it, or choose a new --out");
  if (root) require_outside_inputs("--out", o.out, {o.model_dir, o.linear});
  fs::create_directories(o.out);
  // Provenance: the modules' teacher is this model; a resumed run has the settings it resumes.
  const ModelFingerprint fp = model_fingerprint(o.model_dir);
  LinearFile::open(o.linear).check_teacher(fp, o.model_dir.string());
  const nlohmann::json settings = search_settings(fp, tasks, o);
  const std::string task_names = settings["task"];
  if (o.resume) check_resume_settings(o.out, settings);
  if (root) write_file_atomic(o.out / "search_settings.json", settings.dump(2) + "\n");
  TaskScorer scorer(model, o.linear, enc, tasks, o.metric, o.prefix_cache);
  // Only rank 0 writes: the journal (the others read it to resume), trajectory, summary, hybrids.
  ScoreJournal journal(o.out / "candidates.jsonl", o.resume, root);
  // ^C / SIGTERM: stop between two candidates (a group agrees between rounds), every score kept;
  // SearchInterrupted then leaves this function. Caught while scoring only: the writing that
  // follows is short, and each file is published whole.
  std::optional<StopOnSignal> signals;
  signals.emplace();
  journal.set_stop([group] {
    return group ? group->any(StopOnSignal::stop_requested()) : StopOnSignal::stop_requested();
  });
  AppendFile traj;
  if (root) traj.open(o.out / "trajectory.jsonl", /*truncate=*/true);
  if (root) {
    std::string on = task_names;  // several tasks: each with its weight and documents
    if (tasks.size() > 1) {
      on.clear();
      for (size_t t = 0; t < tasks.size(); ++t)
        on += fmt::format("{}{} x {:.3g} ({} documents)", t ? " + " : "", tasks[t].task.name, tasks[t].weight,
                          scorer.num_documents(t));
    }
    fmt::print(stderr, "search {} on {} ({} documents, metric {}), strategy {}{}\n", o.model_dir.string(), on,
               scorer.num_documents(), o.metric, o.search.strategy,
               group ? fmt::format(", {} processes", group->world_size()) : "");
  }
  SearchOptions search = o.search;
  if (o.stop_on_significant_drop) {
    if (!scorer.per_document_metric())
      fail("--stop-on-significant-drop", "needs a metric that is a mean over documents (acc, acc_norm), not {}",
           o.metric);
    // Every rank decides alike: a score replayed or made elsewhere is rescored here (deterministic).
    search.significant_drop = [&](const LayerSet& candidate, const LayerSet& current) {
      return significant_drop(scorer.paired(candidate, current));
    };
  }
  // Uncertainty of the scores this process made (null for replayed ones, or another process's).
  auto stderr_of = [&](const LayerSet& s) {
    const auto m = scorer.known_mean_se(s);
    return m ? nlohmann::json(m->se) : nlohmann::json(nullptr);
  };
  auto paired = [&](const LayerSet& s, const LayerSet& against) { return scorer.known_paired(s, against); };
  // Several tasks: each one's score where this process made it (null otherwise).
  auto task_scores = [&](const LayerSet& s) {
    const std::vector<double>* v = scorer.known_task_scores(s);
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json base_uncertainty = nlohmann::json::object(), round_uncertainty = nlohmann::json::array();
  LayerSet current;  // the model each round's candidates are compared with
  auto t0 = std::chrono::steady_clock::now();
  SearchRunResult run;
  run.result = run_search(model.num_layers(), [&](const LayerSet& s, const LayerSet& e) { return scorer.score(s, e); },
                          search, journal, [&](const Round& r) {
    if (!root) return;
    if (r.index == 1 && scorer.known_mean_se({})) {  // the base, before the first round's line
      const MeanSE b = *scorer.known_mean_se({});
      base_uncertainty = {{"base_stderr", b.se}};
      fmt::print(stderr, "base {:.4f} +- {:.4f} (standard error over {} documents)\n", b.mean, b.se,
                 scorer.num_documents());
      if (auto chance = scorer.chance()) {
        const bool noise = b.mean - *chance < 2 * b.se;
        base_uncertainty["chance"] = *chance;
        base_uncertainty["base_within_noise_of_chance"] = noise;
        if (noise)
          fmt::print(stderr, "warning: the base scores {:.4f}, within 2 standard errors ({:.4f}) of chance ({:.4f}): "
                             "the search's decisions are noise (more documents, or another task)\n",
                     b.mean, 2 * b.se, *chance);
      }
    }
    nlohmann::json c = nlohmann::json::array();
    const Evaluated* pick = nullptr;
    for (const auto& e : r.candidates) {
      nlohmann::json j = {{"layers", e.layers}, {"score", e.score}, {"seconds", e.seconds}};
      if (scorer.per_document_metric()) {
        j["stderr"] = stderr_of(e.layers);
        const auto d = paired(e.layers, current);
        j["diff"] = d ? nlohmann::json(d->mean) : nlohmann::json(nullptr);
        j["diff_stderr"] = d ? nlohmann::json(d->se) : nlohmann::json(nullptr);
      }
      if (tasks.size() > 1) j["task_scores"] = task_scores(e.layers);
      c.push_back(j);
      if (!pick || e.score > pick->score) pick = &e;
    }
    traj.append(nlohmann::json{{"round", r.index}, {"candidates", c}, {"chosen", r.chosen}, {"score", r.score},
                               {"accepted", r.accepted}, {"seconds", r.seconds}}.dump() + "\n");
    std::string noise;
    if (pick && scorer.per_document_metric()) {
      const nlohmann::json se = stderr_of(pick->layers);
      const auto d = paired(pick->layers, current);
      round_uncertainty.push_back({{"round", r.index}, {"stderr", se},
                                   {"diff", d ? nlohmann::json(d->mean) : nlohmann::json(nullptr)},
                                   {"diff_stderr", d ? nlohmann::json(d->se) : nlohmann::json(nullptr)}});
      if (!se.is_null()) noise += fmt::format(" +- {:.4f}", se.get<double>());
      if (d) noise += fmt::format(", {:+.4f} +- {:.4f} against the current model", d->mean, d->se);
    }
    // Accepted under P_min (only --stop-on-significant-drop does that): said on the round's line.
    bool under = false;
    if (o.stop_on_significant_drop && r.accepted && scorer.known_mean_se({})) {
      const double base = scorer.known_mean_se({})->mean;
      under = r.score < (o.search.min_score ? *o.search.min_score : base * (1.0 - o.search.max_drop));
    }
    fmt::print(stderr, "round {:>3}: best {:.4f}{} {} ({} candidates, {:.1f} s)\n", r.index, r.score, noise,
               r.accepted ? fmt::format("-> layer {} replaced{}", r.chosen, under ? " (under P_min, within noise)" : "")
                          : std::string("under P_min: stop"),
               r.candidates.size(), r.seconds);
    if (r.accepted && pick) current = pick->layers;
  }, with_progress(distributed_round(scorer, group), scorer, group, root && o.progress));
  signals.reset();
  // Cost over all processes (a collective: every rank takes part before the others return).
  run.full_forwards = group ? group->all_reduce(std::vector<double>{scorer.full_forwards()}, dist::Reduce::kSum)[0]
                            : scorer.full_forwards();
  run.replayed = journal.replayed();
  if (!root) return run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const SearchResult& result = run.result;
  auto& summary = run.summary;
  summary = result.to_json();
  summary["task"] = task_names;
  summary["tasks"] = nlohmann::json::array();  // each task's part of the scores (null where replayed)
  for (size_t t = 0; t < tasks.size(); ++t) {
    auto score_of = [&](const LayerSet& s) {
      const std::vector<double>* v = scorer.known_task_scores(s);
      return v ? nlohmann::json(v->at(t)) : nlohmann::json(nullptr);
    };
    summary["tasks"].push_back({{"name", tasks[t].task.name}, {"weight", tasks[t].weight}, {"split", split_of(tasks[t])},
                                {"documents", scorer.num_documents(t)}, {"base_score", score_of({})},
                                {"M_best_score", score_of(result.best.layers)}, {"M_opt_score", score_of(result.opt.layers)}});
  }
  summary["metric"] = o.metric;
  summary["documents"] = scorer.num_documents();
  summary["seconds"] = run.seconds;
  summary["replayed_from_journal"] = journal.replayed();
  summary["full_forward_equivalents"] = run.full_forwards;
  summary["processes"] = group ? group->world_size() : 1;
  summary["prefix_cache"] = o.prefix_cache;
  summary["settings"] = settings;
  if (scorer.per_document_metric()) {  // standard errors (null where a score was replayed)
    for (const auto& [k, v] : base_uncertainty.items()) summary[k] = v;
    summary["round_uncertainty"] = round_uncertainty;
    summary["M_best"]["stderr"] = stderr_of(result.best.layers);
    summary["M_opt"]["stderr"] = stderr_of(result.opt.layers);
  }
  write_search_plots(o.out, result, task_names, o.search.strategy, o.metric, model.num_layers());
  // The two hybrids, each renamed into place whole (a resumed run's swapped with the old in one
  // step), before summary.json names them: it never points to a missing or half-written one.
  for (const auto& [name, e] : {std::pair<std::string, Evaluated>{"M_best", result.best}, {"M_opt", result.opt}}) {
    export_hybrid(o.model_dir, o.linear, e.layers, o.out / name, /*replace_existing=*/o.resume);
    summary[name]["dir"] = (o.out / name).string();
  }
  write_file_atomic(o.out / "summary.json", summary.dump(2) + "\n");
  return run;
}

}  // namespace hyb
