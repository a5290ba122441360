// The demo's pipeline: world -> teacher -> distilled students -> search per task -> export -> decode speed
// -> report. Every number the report shows is computed here and kept in report.json.
#include "demo/demo.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "demo/decode_speed.h"
#include "demo/pretrain.h"
#include "demo/report.h"
#include "demo/score.h"
#include "demo/vocab.h"
#include "demo/world.h"
#include "distill/distill.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "search/layer_swapper.h"
#include "search/search.h"
#include "util/files.h"
#include "util/threads.h"

namespace hyb::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Sizes of a run. The full demo is sized so that the teacher solves every task (recall near
// 100%) and the whole run fits in a few minutes of one laptop core; --quick keeps every step
// but shrinks the budgets (its teacher may not learn recall: it shows the steps, not the point).
struct Scale {
  int64_t layers, hidden, heads, kv_heads, seq_len;
  int64_t max_recall_steps, mixed_steps, batch;
  int64_t distill_steps, distill_batch;
  int64_t recall_episodes, local_episodes;
  std::vector<int64_t> contexts;
  int64_t decode_batch, decode_steps;
  int repeats;
};

Scale scale_for(bool quick) {
  if (quick) return {2, 64, 4, 2, 32, 300, 200, 16, 60, 8, 16, 16, {512, 2048}, 2, 8, 2};
  return {3, 64, 4, 2, 32, 2000, 800, 32, 300, 16, 64, 64, {1024, 4096, 16384}, 4, 64, 5};
}

class Clock {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// One question in the generic task format of `hybridize eval`: {"context", "choices", "gold"}.
json question_json(const TaskSet& t, const Item& it) {
  const auto& row = t.rows[it.row];
  json choices = json::array();
  for (int32_t c : it.choices) choices.push_back(word(c));
  return {{"context", decode(std::vector<int32_t>(row.begin(), row.begin() + it.pos + 1))},
          {"choices", choices},
          {"gold", it.gold}};
}

void write_task_jsonl(const TaskSet& t, const fs::path& path) {
  std::string s;
  for (const Item& it : t.items) s += question_json(t, it).dump() + "\n";
  write_file_atomic(path, s);
}

// The first questions of a task, with their answer spelt out, for the report.
json examples(const TaskSet& t, size_t n) {
  json out = json::array();
  for (size_t i = 0; i < n && i < t.items.size(); ++i) {
    json q = question_json(t, t.items[i]);
    q["answer"] = word(t.items[i].choices[t.items[i].gold]);
    out.push_back(q);
  }
  return out;
}

// Every layer's distilled module from linear.safetensors (linear/linear_file), kept apart from
// the model so that the search can swap them in and out (load_linear_layers swaps them in for good).
std::map<int64_t, std::unique_ptr<TokenMixer>> read_students(const fs::path& path, const CausalLM& model) {
  const LinearFile file = LinearFile::open(path);
  file.check_fits(model.config(), all_layers(model.num_layers()));
  std::map<int64_t, std::unique_ptr<TokenMixer>> out;
  for (int64_t l = 0; l < model.num_layers(); ++l) out[l] = file.module(l, at::kCPU, at::kFloat);
  return out;
}

json speed_json(const std::string& name, const LayerSet& linear, const std::vector<DecodeSpeed>& v) {
  json tps = json::array(), bytes = json::array();
  for (const auto& d : v) tps.push_back(d.tokens_per_s), bytes.push_back(d.cache_bytes);
  return {{"name", name}, {"linear_layers", linear}, {"tokens_per_s", tps}, {"cache_bytes", bytes}};
}

}  // namespace

json run_demo(const DemoOptions& opt) {
  torch::NoGradGuard no_grad_outside_training;  // the two training phases enable what they need
  const Clock clock;
  const Scale sc = scale_for(opt.quick);
  auto log = [&](const std::string& msg) {
    if (opt.log) fmt::print(stderr, "[demo {:6.1f}s] {}\n", clock.seconds(), msg);
  };
  const int threads = configure_threads(opt.threads, sc.hidden);
  const OutputLock lock = OutputLock::acquire("--out", opt.out);  // a second demo into it is refused
  fs::create_directories(opt.out);
  json report;
  report["seed"] = opt.seed;
  report["quick"] = opt.quick;
  report["threads"] = threads;
  json seconds = json::object();

  // --- The world ------------------------------------------------------------------------------
  WorldOptions wopt;
  wopt.seq_len = sc.seq_len;
  const World world(opt.seed, wopt);
  std::vector<TaskSet> tasks;
  for (const auto& name : World::task_names())
    tasks.push_back(world.task(name, name == "recall" ? sc.recall_episodes : sc.local_episodes));
  fs::create_directories(opt.out / "tasks");
  json world_j = {{"seq_len", sc.seq_len}, {"vocab_size", vocab_size()}, {"tasks", json::array()}};
  for (const auto& t : tasks) {
    write_task_jsonl(t, opt.out / "tasks" / (t.name + ".jsonl"));
    // Questions of an independent draw (split 2), for fine-tuning (`hybridize sft --data`).
    write_task_jsonl(world.task(t.name, t.name == "recall" ? sc.recall_episodes : sc.local_episodes, 2), opt.out / "tasks" / (t.name + "_train.jsonl"));
    world_j["tasks"].push_back(
        {{"name", t.name}, {"ability", t.ability}, {"questions", t.items.size()}, {"examples", examples(t, 2)}});
  }
  report["world"] = world_j;

  // --- Teacher --------------------------------------------------------------------------------
  double t0 = clock.seconds();
  const ModelConfig cfg = teacher_config(sc.layers, sc.hidden, sc.heads, sc.kv_heads, vocab_size());
  auto teacher = CausalLM::random(cfg, opt.seed);
  init_teacher(*teacher);
  log(
      fmt::format("pretraining a {}-layer teacher ({:.2f}M parameters) on rows of {} x {} tokens: recall first, "
                  "then the mixture",
                  sc.layers, teacher->num_parameters() / 1e6, sc.batch, sc.seq_len));
  // Dev sets (split 1): the curriculum's test and the progress lines; the search scores split 0.
  std::vector<TaskSet> dev;
  for (const auto& name : World::task_names()) dev.push_back(world.task(name, 16, /*split=*/1));
  PretrainOptions popt;
  popt.batch = sc.batch, popt.max_recall_steps = sc.max_recall_steps, popt.mixed_steps = sc.mixed_steps;
  popt.recall_accuracy = [&] { return accuracy(*teacher, dev[0]); };
  double smooth = 0;
  int64_t phase1_end = -1;
  popt.on_step = [&](int64_t step, int phase, double loss) {
    smooth = step == 0 ? loss : 0.95 * smooth + 0.05 * loss;
    if (phase == 2 && phase1_end < 0) phase1_end = step;
    const bool report_now =
        phase == 1 ? (step + 1) % 100 == 0 : (step + 1 - phase1_end) % std::max<int64_t>(1, sc.mixed_steps / 4) == 0;
    if (!report_now) return;
    std::string acc;
    {
      torch::NoGradGuard ng;
      for (const auto& t : dev)
        if (phase == 2 || t.name == "recall") acc += fmt::format("  {} {:.2f}", t.name, accuracy(*teacher, t));
    }
    log(fmt::format("  pretrain {} step {}  loss {:.3f}  dev accuracy:{}", phase == 1 ? "(recall)" : "(mixture)",
                    step + 1, smooth, acc));
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
                       {"steps", pre.loss.size()},
                       {"recall_steps", pre.recall_steps},
                       {"recall_dev_accuracy", pre.recall_accuracy},
                       {"batch", sc.batch},
                       {"loss_start", pre.loss.front()},
                       {"loss_end", tail_mean(pre.loss, 50)}};

  // --- Phase 1: distil a GDN module for every layer, with the library's trainer ---------------
  // The world's text becomes a corpus: one document per training row (its 30 first words, so
  // that <s> + 30 words + </s> fill one packed sequence of 32 exactly, as the teacher saw them).
  t0 = clock.seconds();
  const fs::path corpus = opt.out / "corpus";
  fs::create_directories(corpus);
  auto write_corpus = [&](const fs::path& path, int64_t stream, int64_t rows) {
    std::string text;
    for (int64_t step = 0; step * sc.distill_batch < rows; ++step)
      for (auto row : world.training_batch(stream, step, sc.distill_batch)) {
        row.resize(sc.seq_len - 1);  // <s> + 30 words
        text += decode(row) + "\n\n";
      }
    write_file_atomic(path, text);
  };
  write_corpus(corpus / "train.txt", /*stream=*/1, sc.distill_steps * sc.distill_batch);
  write_corpus(corpus / "eval.txt", /*stream=*/2, sc.distill_batch);
  DistillOptions dopt;
  dopt.model_dir = teacher_dir;
  dopt.out_dir = opt.out / "distill";
  dopt.mixer = "gdn";
  dopt.data = {(corpus / "train.txt").string()};
  dopt.eval_data = {(corpus / "eval.txt").string()};
  dopt.seq_len = sc.seq_len;
  dopt.batch = sc.distill_batch;
  dopt.tokens = sc.distill_steps * sc.distill_batch * sc.seq_len;
  dopt.lr = 3e-3;
  dopt.warmup = std::max<int64_t>(1, sc.distill_steps / 15);
  dopt.seed = opt.seed;
  dopt.eval_every = dopt.checkpoint_every = sc.distill_steps;  // evaluate at the start and the end only
  dopt.eval_sequences = sc.distill_batch;
  dopt.device = "cpu";
  dopt.threads = threads;
  dopt.progress = opt.log;
  log(fmt::format("distilling Gated DeltaNet students for layers 0-{} ({} steps of {} x {} tokens)", sc.layers - 1,
                  sc.distill_steps, sc.distill_batch, sc.seq_len));
  DistillResult dres;
  {
    at::AutoGradMode grad(true);
    dres = run_distill(dopt);
  }
  configure_threads(threads, sc.hidden);  // the trainer set its own
  const fs::path linear_file = dopt.out_dir / "linear.safetensors";
  const LinearSettings settings = LinearSettings::for_model("gdn", cfg);
  auto students = read_students(linear_file, *teacher);
  seconds["distill"] = clock.seconds() - t0;
  json rel_start = json::array(), rel_end = json::array();
  for (const auto& m : dres.start) rel_start.push_back(m.rel_mse);
  for (const auto& m : dres.end) rel_end.push_back(m.rel_mse);
  report["distill"] = {
      {"kind", settings.kind},     {"file", "distill/linear.safetensors"}, {"steps", dres.steps},
      {"batch", sc.distill_batch}, {"relative_mse_start", rel_start},      {"relative_mse_end", rel_end}};

  // --- Phase 2: greedy replacement, per task ----------------------------------------------------
  t0 = clock.seconds();
  LayerSwapper swap(*teacher, std::move(students), settings.to_json());
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
        if (best)
          trajectory.push_back(
              {{"linear", r.index}, {"layers", best->layers}, {"score", best->score}, {"accepted", false}});
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
  // Every model at every context, round-robin `repeats` times, keeping each one's fastest run:
  // a burst of other work on a shared machine then slows one round of all models rather than
  // every run of one model. The teacher is timed as loaded back from teacher/; the in-memory
  // copy has every layer swapped for its distilled module ("all linear").
  auto saved_teacher = CausalLM::load(teacher_dir);
  swap.set(all_layers(sc.layers));
  struct Timed {
    std::string name;
    CausalLM* model;
    LayerSet linear;
    std::vector<DecodeSpeed> best;
  };
  std::vector<Timed> timed = {{"teacher", saved_teacher.get(), {}, {}}};
  for (size_t i = 0; i < tasks.size(); ++i)
    timed.push_back({"hybrid:" + tasks[i].name, hybrids[i].get(), results[i].opt.layers, {}});
  timed.push_back({"all linear", teacher.get(), all_layers(sc.layers), {}});
  for (auto& t : timed) t.best.resize(sc.contexts.size());
  for (int rep = 0; rep < sc.repeats; ++rep)
    for (auto& t : timed)
      for (size_t c = 0; c < sc.contexts.size(); ++c) {
        const DecodeSpeed d = time_decode(*t.model, sc.decode_batch, sc.contexts[c], sc.decode_steps, 1);
        if (rep == 0 || d.seconds < t.best[c].seconds) t.best[c] = d;
      }
  swap.set({});
  json models = json::array();
  for (const auto& t : timed) models.push_back(speed_json(t.name, t.linear, t.best));
  for (size_t i = 0; i < tasks.size(); ++i)
    task_results[i]["decode_speedup"] = timed[i + 1].best.back().tokens_per_s / timed[0].best.back().tokens_per_s;
  report["decode"] = {{"batch", sc.decode_batch},
                      {"steps", sc.decode_steps},
                      {"contexts", sc.contexts},
                      {"repeats", sc.repeats},
                      {"models", models}};
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
