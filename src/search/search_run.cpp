#include "search/search_run.h"

#include <fmt/format.h>

#include <chrono>
#include <fstream>

#include "dist/process_group.h"
#include "model/model.h"
#include "search/export.h"
#include "search/task_scorer.h"
#include "util/files.h"
#include "util/plot.h"

namespace hyb {
namespace fs = std::filesystem;

ScoreManyFn distributed_round(TaskScorer& scorer, dist::ProcessGroup* group) {
  // One process is the case W = 1. Each rank plans its own candidates' prefix cache.
  return [&scorer, group](const std::vector<LayerSet>& cands, const LayerSet& ext) {
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

SearchRunResult run_search_dir(CausalLM& model, const eval::TextEncoder& enc, const eval::TaskSpec& task,
                               const eval::EvalOptions& eo, const SearchRunOptions& o, dist::ProcessGroup* group) {
  const bool root = !group || group->is_root();
  // A run directory is the search's own: a non-empty one is refused unless resumed (its M_best /
  // M_opt and journal are then replaced by this run's).
  if (root && !o.resume)
    require_new_output_dir("--out", o.out, {o.model_dir, o.linear}, "pass --resume to continue it, or choose a new --out");
  if (root) require_outside_inputs("--out", o.out, {o.model_dir, o.linear});
  fs::create_directories(o.out);
  TaskScorer scorer(model, o.linear, enc, task, eo, o.metric, o.prefix_cache);
  // Only rank 0 writes: the journal (the others read it to resume), trajectory, summary, hybrids.
  ScoreJournal journal(o.out / "candidates.jsonl", o.resume, root);
  std::ofstream traj;
  if (root) traj.open(o.out / "trajectory.jsonl", std::ios::trunc);
  if (root)
    fmt::print(stderr, "search {} on {} ({} documents, metric {}), strategy {}{}\n", o.model_dir.string(), task.name,
               scorer.num_documents(), o.metric, o.search.strategy,
               group ? fmt::format(", {} processes", group->world_size()) : "");
  auto t0 = std::chrono::steady_clock::now();
  SearchRunResult run;
  run.result = run_search(model.num_layers(), [&](const LayerSet& s, const LayerSet& e) { return scorer.score(s, e); },
                          o.search, journal, [&](const Round& r) {
    if (!root) return;
    nlohmann::json c = nlohmann::json::array();
    for (const auto& e : r.candidates) c.push_back({{"layers", e.layers}, {"score", e.score}, {"seconds", e.seconds}});
    traj << nlohmann::json{{"round", r.index}, {"candidates", c}, {"chosen", r.chosen}, {"score", r.score},
                           {"accepted", r.accepted}, {"seconds", r.seconds}}.dump() << "\n";
    traj.flush();
    fmt::print(stderr, "round {:>3}: best {:.4f} {} ({} candidates, {:.1f} s)\n", r.index, r.score,
               r.accepted ? fmt::format("-> layer {} replaced", r.chosen) : std::string("under P_min: stop"),
               r.candidates.size(), r.seconds);
  }, distributed_round(scorer, group));
  // Cost over all processes (a collective: every rank takes part before the others return).
  run.full_forwards = group ? group->all_reduce(std::vector<double>{scorer.full_forwards()}, dist::Reduce::kSum)[0]
                            : scorer.full_forwards();
  run.replayed = journal.replayed();
  if (!root) return run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const SearchResult& result = run.result;
  auto& summary = run.summary;
  summary = result.to_json();
  summary["task"] = task.name;
  summary["metric"] = o.metric;
  summary["documents"] = scorer.num_documents();
  summary["seconds"] = run.seconds;
  summary["replayed_from_journal"] = journal.replayed();
  summary["full_forward_equivalents"] = run.full_forwards;
  summary["processes"] = group ? group->world_size() : 1;
  summary["prefix_cache"] = o.prefix_cache;
  write_search_plots(o.out, result, task.name, o.search.strategy, o.metric, model.num_layers());
  // The two hybrids.
  for (const auto& [name, e] : {std::pair<std::string, Evaluated>{"M_best", result.best}, {"M_opt", result.opt}}) {
    export_hybrid(o.model_dir, o.linear, e.layers, o.out / name, /*replace_existing=*/o.resume);
    summary[name]["dir"] = (o.out / name).string();
  }
  write_file_atomic(o.out / "summary.json", summary.dump(2) + "\n");
  return run;
}

}  // namespace hyb
