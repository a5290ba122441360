// The demo's pipeline: world -> teacher -> students -> search per task -> export -> decode speed
// -> report. Every number the report shows is computed here and kept in report.json.
#include "demo/demo.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "demo/decode_speed.h"
#include "demo/pretrain.h"
#include "demo/report.h"
#include "demo/score.h"
#include "demo/students.h"
#include "demo/vocab.h"
#include "demo/world.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "search/export.h"
#include "search/search.h"
#include "util/threads.h"

namespace hyb::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Sizes of a run. The full demo is tuned so that the teacher solves every task (recall near
// 100%) within the time budget; --quick keeps every step but shrinks everything.
struct Scale {
  int64_t layers, hidden, heads, seq_len;
  int64_t pretrain_steps, pretrain_batch;
  double pretrain_lr;
  int64_t distill_steps, distill_batch;
  int64_t recall_episodes, local_episodes;
  std::vector<int64_t> contexts;
  int64_t decode_batch, decode_steps;
  int repeats;
};

Scale scale_for(bool quick) {
  if (quick) return {2, 64, 4, 48, 200, 16, 3e-3, 40, 8, 12, 16, {512, 2048}, 2, 4, 1};
  return {4, 64, 4, 64, 1500, 32, 3e-3, 300, 16, 48, 64, {1024, 4096, 16384}, 4, 16, 3};
}

class Clock {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// Keeps, for every layer, the mixer that is not installed (the teacher's attention or the
// distilled module) and swaps so that exactly a given set of layers is linear.
class LayerSwapper {
 public:
  LayerSwapper(CausalLM& model, std::vector<std::unique_ptr<TokenMixer>> students, json settings)
      : model_(model), spare_(std::move(students)), linear_(spare_.size(), false), settings_(std::move(settings)) {}

  void set(const LayerSet& layers) {
    for (size_t l = 0; l < spare_.size(); ++l) {
      const bool want = std::find(layers.begin(), layers.end(), static_cast<int64_t>(l)) != layers.end();
      if (want == linear_[l]) continue;
      spare_[l] = model_.set_mixer(static_cast<int64_t>(l), std::move(spare_[l]), settings_);
      linear_[l] = want;
    }
  }

 private:
  CausalLM& model_;
  std::vector<std::unique_ptr<TokenMixer>> spare_;
  std::vector<bool> linear_;
  json settings_;
};

LayerSet all_layers(int64_t n) {
  LayerSet s(n);
  for (int64_t l = 0; l < n; ++l) s[l] = l;
  return s;
}

LayerSet complement(const LayerSet& layers, int64_t n) {
  LayerSet out;
  for (int64_t l = 0; l < n; ++l)
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) out.push_back(l);
  return out;
}

// The questions as the generic task format of `hybridize eval` ({"context", "choices", "gold"}).
void write_task_jsonl(const TaskSet& t, const fs::path& path) {
  std::string s;
  for (const Item& it : t.items) {
    const auto& row = t.rows[it.row];
    std::vector<int32_t> ctx(row.begin(), row.begin() + it.pos + 1);
    json choices = json::array();
    for (int32_t c : it.choices) choices.push_back(word(c));
    s += json{{"context", decode(ctx)}, {"choices", choices}, {"gold", it.gold}}.dump() + "\n";
  }
  write_file_atomic(path, s);
}

// A few examples per task for the report: the context's end, the choices and the answer.
json examples(const TaskSet& t, int64_t n) {
  json out = json::array();
  for (int64_t i = 0; i < n && i < static_cast<int64_t>(t.items.size()); ++i) {
    const Item& it = t.items[i];
    const auto& row = t.rows[it.row];
    json choices = json::array();
    for (int32_t c : it.choices) choices.push_back(word(c));
    out.push_back({{"context", decode(std::vector<int32_t>(row.begin(), row.begin() + it.pos + 1))},
                   {"choices", choices},
                   {"answer", word(it.choices[it.gold])}});
  }
  return out;
}

void save_students(const fs::path& path, const std::vector<std::unique_ptr<TokenMixer>>& modules,
                   const LinearSettings& settings) {
  // linear.safetensors as `hybridize distill` writes it (distill/linear_file.h): every layer's
  // module under model.layers.{l}.linear_attn.<name>, settings in the metadata.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::string layers;
  for (size_t l = 0; l < modules.size(); ++l) {
    for (auto& [name, t] : modules[l]->parameters("model.layers." + std::to_string(l) + ".linear_attn."))
      tensors.emplace_back(name, *t);
    layers += (l ? "," : "") + std::to_string(l);
  }
  save_safetensors(path, tensors,
                   {{"format", "pt"}, {"linear_attention", settings.to_json().dump()}, {"layers", layers}});
}

json speed_json(const std::string& name, const LayerSet& linear, const std::vector<DecodeSpeed>& v) {
  json tps = json::array(), bytes = json::array();
  for (const auto& d : v) tps.push_back(d.tokens_per_s), bytes.push_back(d.cache_bytes);
  return {{"name", name}, {"linear_layers", linear}, {"tokens_per_s", tps}, {"cache_bytes", bytes}};
}

}  // namespace

json run_demo(const DemoOptions& opt) {
  torch::NoGradGuard no_grad_outside_training;  // pretrain / students enable what they need
  const Clock clock;
  const Scale sc = scale_for(opt.quick);
  auto log = [&](const std::string& msg) {
    if (opt.log) fmt::print(stderr, "[demo {:6.1f}s] {}\n", clock.seconds(), msg);
  };
  const int threads = configure_threads(opt.threads, sc.hidden);
  fs::create_directories(opt.out);
  json report;
  report["seed"] = opt.seed;
  report["quick"] = opt.quick;
  report["threads"] = threads;
  json seconds = json::object();

  // --- The world ------------------------------------------------------------------------------
  WorldOptions wopt;
  wopt.seq_len = sc.seq_len;
  if (opt.quick) wopt.min_pairs = 6, wopt.max_pairs = 8;
  const World world(opt.seed, wopt);
  std::vector<TaskSet> tasks;
  for (const auto& name : World::task_names())
    tasks.push_back(world.task(name, name == "recall" ? sc.recall_episodes : sc.local_episodes));
  fs::create_directories(opt.out / "tasks");
  json world_j = {{"seq_len", sc.seq_len}, {"vocab_size", vocab_size()}, {"tasks", json::array()}};
  for (const auto& t : tasks) {
    write_task_jsonl(t, opt.out / "tasks" / (t.name + ".jsonl"));
    world_j["tasks"].push_back({{"name", t.name}, {"ability", t.ability}, {"questions", t.items.size()},
                                {"examples", examples(t, 2)}});
  }
  report["world"] = world_j;

  // --- Teacher --------------------------------------------------------------------------------
  double t0 = clock.seconds();
  const ModelConfig cfg = teacher_config(sc.layers, sc.hidden, sc.heads, vocab_size());
  auto teacher = CausalLM::random(cfg, opt.seed);
  log(fmt::format("pretraining a {}-layer teacher ({:.2f}M parameters) for {} steps of {} x {} tokens",
                  sc.layers, teacher->num_parameters() / 1e6, sc.pretrain_steps, sc.pretrain_batch, sc.seq_len));
  PretrainOptions popt;
  popt.steps = sc.pretrain_steps, popt.batch = sc.pretrain_batch, popt.lr = sc.pretrain_lr;
  popt.warmup = std::max<int64_t>(10, sc.pretrain_steps / 25);
  double smooth = 0;
  popt.on_step = [&](int64_t step, double loss) {
    smooth = step == 0 ? loss : 0.95 * smooth + 0.05 * loss;
    if ((step + 1) % std::max<int64_t>(1, sc.pretrain_steps / 10) == 0)
      log(fmt::format("  pretrain step {}/{}  loss {:.3f}", step + 1, sc.pretrain_steps, smooth));
  };
  PretrainResult pre;
  {
    at::AutoGradMode grad(true);
    pre = pretrain(*teacher, world, popt);
  }
  const fs::path teacher_dir = opt.out / "teacher";
  teacher->save(teacher_dir);
  write_file_atomic(teacher_dir / "tokenizer.json", tokenizer_json().dump(1) + "\n");
  write_file_atomic(teacher_dir / "tokenizer_config.json", tokenizer_config_json().dump(2) + "\n");
  seconds["pretrain"] = clock.seconds() - t0;
  auto tail_mean = [](const std::vector<double>& v, size_t n) {
    n = std::min(n, v.size());
    double s = 0;
    for (size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
    return n ? s / static_cast<double>(n) : 0.0;
  };
  report["teacher"] = {{"dir", "teacher"},
                       {"layers", sc.layers},
                       {"hidden_size", sc.hidden},
                       {"heads", sc.heads},
                       {"kv_heads", cfg.num_kv_heads},
                       {"parameters", teacher->num_parameters()},
                       {"steps", sc.pretrain_steps},
                       {"batch", sc.pretrain_batch},
                       {"loss_start", pre.loss.front()},
                       {"loss_end", tail_mean(pre.loss, 50)}};

  // --- Phase 1: distil a GDN module for every layer ------------------------------------------
  t0 = clock.seconds();
  const LinearSettings settings = LinearSettings::for_model("gdn", cfg);
  log(fmt::format("distilling Gated DeltaNet students for layers 0-{} ({} steps of {} x {} tokens)", sc.layers - 1,
                  sc.distill_steps, sc.distill_batch, sc.seq_len));
  StudentOptions sopt;
  sopt.steps = sc.distill_steps, sopt.batch = sc.distill_batch, sopt.seed = opt.seed;
  sopt.on_step = [&](int64_t step, double rel) {
    if ((step + 1) % std::max<int64_t>(1, sc.distill_steps / 5) == 0)
      log(fmt::format("  distill step {}/{}  relative MSE {:.3f}", step + 1, sc.distill_steps, rel));
  };
  StudentResult students;
  {
    at::AutoGradMode grad(true);
    students = distill_students(*teacher, settings, world, sopt);
  }
  const fs::path linear_file = opt.out / "linear.safetensors";
  save_students(linear_file, students.modules, settings);
  seconds["distill"] = clock.seconds() - t0;
  report["distill"] = {{"kind", settings.kind},
                       {"file", "linear.safetensors"},
                       {"steps", sc.distill_steps},
                       {"batch", sc.distill_batch},
                       {"relative_mse_start", students.rel_mse_start},
                       {"relative_mse_end", students.rel_mse_end}};

  // --- Phase 2: greedy replacement, per task ----------------------------------------------------
  t0 = clock.seconds();
  LayerSwapper swap(*teacher, std::move(students.modules), settings.to_json());
  fs::create_directories(opt.out / "search");
  SearchOptions search_opt;  // greedy, P_min = 95% of the base score
  json task_results = json::array();
  std::vector<SearchResult> results;
  for (const auto& task : tasks) {
    ScoreFn score = [&](const LayerSet& layers, const LayerSet&) {
      swap.set(layers);
      return accuracy(*teacher, task);
    };
    ScoreJournal journal(opt.out / "search" / (task.name + ".jsonl"));
    auto res = run_search(sc.layers, score, search_opt, journal, [&](const Round& r) {
      log(fmt::format("  search {}: round {}: best layer {} -> {:.3f}{}", task.name, r.index,
                      r.candidates.empty() ? -1 : r.chosen, r.score, r.accepted ? "" : " (below P_min: stop)"));
    });
    write_file_atomic(opt.out / "search" / (task.name + ".json"), res.to_json().dump(2) + "\n");
    swap.set(all_layers(sc.layers));
    const double all_linear = accuracy(*teacher, task);
    json trajectory = json::array();
    trajectory.push_back({{"linear", 0}, {"layers", LayerSet{}}, {"score", res.base}, {"accepted", true}});
    LayerSet path;
    for (const auto& r : res.rounds) {
      if (r.chosen < 0) {
        // The stopping round: its best candidate, below P_min.
        const Evaluated* best = nullptr;
        for (const auto& c : r.candidates)
          if (!best || c.score > best->score) best = &c;
        if (best) trajectory.push_back({{"linear", r.index}, {"layers", best->layers}, {"score", best->score}, {"accepted", false}});
        continue;
      }
      path.push_back(r.chosen);
      std::sort(path.begin(), path.end());
      trajectory.push_back({{"linear", r.index}, {"layers", path}, {"score", r.score}, {"accepted", r.accepted}});
    }
    task_results.push_back({{"name", task.name},
                            {"ability", task.ability},
                            {"questions", task.items.size()},
                            {"base", res.base},
                            {"p_min", res.p_min},
                            {"best", {{"layers", res.best.layers}, {"score", res.best.score}}},
                            {"opt", {{"layers", res.opt.layers}, {"score", res.opt.score}}},
                            {"full_attention_kept", complement(res.opt.layers, sc.layers)},
                            {"all_linear", all_linear},
                            {"stop_reason", res.stop_reason},
                            {"trajectory", trajectory}});
    log(fmt::format("{}: base {:.3f}, M_opt {} linear layers ({:.3f}), full attention kept at layers {}", task.name,
                    res.base, res.opt.layers.size(), res.opt.score,
                    json(complement(res.opt.layers, sc.layers)).dump()));
    results.push_back(std::move(res));
  }
  swap.set({});
  seconds["search"] = clock.seconds() - t0;

  // --- Export every task's M_opt and check that the exported directory scores the same --------
  t0 = clock.seconds();
  fs::create_directories(opt.out / "hybrids");
  std::vector<std::unique_ptr<CausalLM>> hybrids;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const fs::path dir = opt.out / "hybrids" / tasks[i].name;
    export_hybrid(teacher_dir, linear_file, results[i].opt.layers, dir);
    hybrids.push_back(CausalLM::load(dir));
    task_results[i]["hybrid_dir"] = "hybrids/" + tasks[i].name;
    task_results[i]["hybrid_score"] = accuracy(*hybrids.back(), tasks[i]);
  }
  seconds["export"] = clock.seconds() - t0;

  // --- Phase 3: decoding speed at long contexts -----------------------------------------------
  t0 = clock.seconds();
  log(fmt::format("timing decoding (batch {}, {} steps) at contexts {}", sc.decode_batch, sc.decode_steps,
                  json(sc.contexts).dump()));
  auto speeds = [&](CausalLM& m) {
    std::vector<DecodeSpeed> v;
    for (int64_t c : sc.contexts) v.push_back(time_decode(m, sc.decode_batch, c, sc.decode_steps, sc.repeats));
    return v;
  };
  json models = json::array();
  const auto teacher_speed = speeds(*teacher);
  models.push_back(speed_json("teacher", {}, teacher_speed));
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto v = speeds(*hybrids[i]);
    models.push_back(speed_json("hybrid:" + tasks[i].name, results[i].opt.layers, v));
    task_results[i]["decode_speedup"] = v.back().tokens_per_s / teacher_speed.back().tokens_per_s;
  }
  swap.set(all_layers(sc.layers));
  models.push_back(speed_json("all linear", all_layers(sc.layers), speeds(*teacher)));
  swap.set({});
  report["decode"] = {{"batch", sc.decode_batch}, {"steps", sc.decode_steps}, {"contexts", sc.contexts},
                      {"repeats", sc.repeats}, {"models", models}};
  seconds["decode"] = clock.seconds() - t0;
  report["tasks"] = task_results;

  seconds["total"] = clock.seconds();
  report["seconds"] = seconds;
  report["plots"] = write_plots(report, opt.out);
  write_file_atomic(opt.out / "report.json", report.dump(2) + "\n");
  write_file_atomic(opt.out / "report.txt", format_report(report));
  return report;
}

}  // namespace hyb::demo
