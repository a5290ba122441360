// `hybridize search`'s run directory: the settings are recorded, and a --resume with any of them
// changed is refused naming the flag; modules distilled from another model are refused.
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "../test_util.h"
#include "io/fingerprint.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/search_run.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;
using test::error_of;

void save_modules(const fs::path& path, CausalLM& model, const fs::path& teacher_dir, int64_t seed) {
  auto s = LinearSettings::for_model("gdn", model.config());
  std::vector<std::unique_ptr<TokenMixer>> keep;
  std::map<int64_t, TokenMixer*> modules;
  for (int64_t l = 0; l < model.num_layers(); ++l) {
    keep.push_back(make_linear_mixer_from_attention(s, model.attention_weights(l), seed + l));
    modules[l] = keep.back().get();
  }
  save_linear_layers(path, s, modules, model_fingerprint(teacher_dir), teacher_dir.string());
}

// stories260K, its tokenizer and encoder, and GDN modules for it (seed 7) in a fresh directory.
struct Stories {
  Stories(const fs::path& dir, const std::string& name)
      : tmp(test::temp_dir(name)), model(CausalLM::load(dir)), tok(Tokenizer::load(dir)),
        enc(eval::TextEncoder::from(tok)) {
    save_modules(tmp / "linear.safetensors", *model, dir, 7);
  }
  fs::path tmp;
  std::unique_ptr<CausalLM> model;
  const Tokenizer tok;  // the encoder refers to it
  eval::TextEncoder enc;
};

TEST(SearchRun, ResumeWithChangedSettingsIsRefused) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  Stories st(dir, "search_run_resume");
  save_modules(st.tmp / "other.safetensors", *st.model, dir, 70);
  {
    std::ofstream f(st.tmp / "ll.jsonl");
    f << R"({"context": "Once upon a time, there was a little", "continuation": " girl named Lily."})" << "\n"
      << R"({"context": "The cat sat on the", "continuation": " mat and looked at the big red ball."})" << "\n"
      << R"({"context": "Tom and Sue went to the park. They", "continuation": " played with a ball."})" << "\n";
  }
  const auto task = eval::generic_task("ll", st.tmp / "ll.jsonl");
  eval::EvalOptions eo;
  eo.progress = false;
  eo.limit = 2;
  SearchRunOptions o;
  o.model_dir = dir, o.linear = st.tmp / "linear.safetensors", o.out = st.tmp / "run", o.metric = "perplexity";
  o.search.replace = 2;

  testing::internal::CaptureStderr();
  const SearchRunResult first = run_search_dir(*st.model, st.enc, task, eo, o, nullptr);
  testing::internal::GetCapturedStderr();
  ASSERT_TRUE(fs::exists(o.out / "search_settings.json"));
  const nlohmann::json& s = first.summary["settings"];
  EXPECT_EQ(s["task"], "ll");
  EXPECT_EQ(s["limit"], 2);
  EXPECT_EQ(s["metric"], "perplexity");
  EXPECT_EQ(s["strategy"], "greedy");
  EXPECT_EQ(s["model"], model_fingerprint(dir).str());
  EXPECT_EQ(s["linear"], file_fingerprint(o.linear));
  EXPECT_FALSE(s.contains("task_weights"));  // a one-task run records what it recorded before

  // The same settings resume (every score replayed).
  o.resume = true;
  testing::internal::CaptureStderr();
  const SearchRunResult again = run_search_dir(*st.model, st.enc, task, eo, o, nullptr);
  testing::internal::GetCapturedStderr();
  EXPECT_GT(again.replayed, 0);
  EXPECT_EQ(again.result.to_json(), first.result.to_json());

  // Each changed setting is refused, naming its flag.
  auto refused = [&](eval::EvalOptions e, SearchRunOptions r, const std::string& flag) {
    const std::string err = error_of([&] { run_search_dir(*st.model, st.enc, task, e, r, nullptr); });
    EXPECT_NE(err.find("--resume with another " + flag + " "), std::string::npos) << flag << ": " << err;
    EXPECT_NE(err.find("search_settings.json"), std::string::npos) << err;
  };
  { auto e = eo; e.limit = 3; refused(e, o, "--limit"); }
  { auto e = eo; e.split = "test"; refused(e, o, "--split"); }
  { auto r = o; r.search.max_drop = 0.1; refused(eo, r, "--max-drop"); }
  { auto r = o; r.search.strategy = "uniform"; refused(eo, r, "--strategy"); }
  { auto r = o; r.search.min_score = 1.0; refused(eo, r, "--min-score"); }
  { auto r = o; r.linear = st.tmp / "other.safetensors"; refused(eo, r, "--linear"); }
  // The refused resumes left the recorded settings as they were.
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(o.out / "search_settings.json")), s);
}

TEST(SearchRun, RunWithoutRecordedSettingsResumesWithAWarning) {
  auto tmp = test::temp_dir("search_run_old");
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(check_resume_settings(tmp, {{"task", "piqa"}}));
  const std::string warned = testing::internal::GetCapturedStderr();
  EXPECT_NE(warned.find("warning: "), std::string::npos) << warned;
  // A summary.json with settings is read when search_settings.json is missing.
  std::ofstream(tmp / "summary.json") << nlohmann::json{{"settings", {{"task", "piqa"}}}}.dump();
  const std::string err = error_of([&] { check_resume_settings(tmp, {{"task", "arc_easy"}}); });
  EXPECT_NE(err.find("summary.json: --resume with another --task "), std::string::npos) << err;
}

TEST(SearchRun, StandardErrorsPairedDifferencesAndChance) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  Stories st(dir, "search_run_uncertainty");
  {  // six two-choice documents, the last two made to be wrong (tied choices: the first wins; a
     // gold that is no English): near chance (0.5) with an SE about 0.2
    std::ofstream f(st.tmp / "mc.jsonl");
    f << R"({"context": "Once upon a time, there was a little", "choices": [" girl", " table"], "gold": 0})" << "\n"
      << R"({"context": "The cat sat on the", "choices": [" mat", " sky"], "gold": 0})" << "\n"
      << R"({"context": "Tom and Sue went to the", "choices": [" blue", " park"], "gold": 1})" << "\n"
      << R"({"context": "Lily liked to play with her", "choices": [" ran", " toys"], "gold": 1})" << "\n"
      << R"({"context": "The dog", "choices": [" ran", " ran"], "gold": 1})" << "\n"
      << R"({"context": "Once upon a time, there was a little", "choices": [" girl", " qz xv"], "gold": 1})" << "\n";
  }
  const auto task = eval::generic_task("mc", st.tmp / "mc.jsonl");
  eval::EvalOptions eo;
  eo.progress = false;
  SearchRunOptions o;
  o.model_dir = dir, o.linear = st.tmp / "linear.safetensors", o.out = st.tmp / "run", o.metric = "acc";
  o.search.max_drop = 1.0;
  o.search.replace = 2;

  testing::internal::CaptureStderr();
  const SearchRunResult run = run_search_dir(*st.model, st.enc, task, eo, o, nullptr);
  const std::string printed = testing::internal::GetCapturedStderr();
  const nlohmann::json& s = run.summary;
  ASSERT_TRUE(s.contains("base_stderr")) << s.dump();
  EXPECT_GT(s["base_stderr"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(s["chance"].get<double>(), 0.5);
  const double base = s["base_score"].get<double>(), se = s["base_stderr"].get<double>();
  EXPECT_EQ(s["base_within_noise_of_chance"].get<bool>(), base - 0.5 < 2 * se);
  EXPECT_TRUE(s["base_within_noise_of_chance"].get<bool>()) << base << " +- " << se;
  EXPECT_EQ(printed.find("warning: the base scores") != std::string::npos, base - 0.5 < 2 * se) << printed;
  EXPECT_NE(printed.find("base "), std::string::npos) << printed;
  EXPECT_TRUE(s["M_opt"]["stderr"].is_number());
  ASSERT_EQ(s["round_uncertainty"].size(), 2u);
  // Every candidate in trajectory.jsonl carries its SE and its paired difference against the model
  // it extends; the round lines print them.
  std::ifstream traj(o.out / "trajectory.jsonl");
  std::string line;
  int rounds = 0;
  while (std::getline(traj, line)) {
    const auto r = nlohmann::json::parse(line);
    for (const auto& c : r["candidates"]) {
      EXPECT_TRUE(c["stderr"].is_number()) << line;
      EXPECT_TRUE(c["diff"].is_number()) << line;
      EXPECT_TRUE(c["diff_stderr"].is_number()) << line;
      EXPECT_NEAR(c["diff"].get<double>(), c["score"].get<double>() - (rounds == 0 ? s["base_score"].get<double>()
                                                                                   : s["rounds"][0]["score"].get<double>()),
                  1e-12);
    }
    ++rounds;
  }
  EXPECT_EQ(rounds, 2);
  EXPECT_NE(printed.find("against the current model"), std::string::npos) << printed;

  // The option needs a per-document metric.
  auto p = o;
  p.out = st.tmp / "ppl", p.metric = "perplexity", p.stop_on_significant_drop = true;
  std::ofstream(st.tmp / "ll.jsonl") << R"({"context": "The cat sat on the", "continuation": " mat."})" << "\n";
  const auto ll = eval::generic_task("ll", st.tmp / "ll.jsonl");
  const std::string err = error_of([&] { run_search_dir(*st.model, st.enc, ll, eo, p, nullptr); });
  EXPECT_NE(err.find("--stop-on-significant-drop"), std::string::npos) << err;
  // With acc it runs, and a resume with the option changed is refused.
  auto q = o;
  q.out = st.tmp / "sig", q.stop_on_significant_drop = true, q.search.max_drop = 0.0;
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(run_search_dir(*st.model, st.enc, task, eo, q, nullptr));
  testing::internal::GetCapturedStderr();
  q.resume = true, q.stop_on_significant_drop = false;
  EXPECT_NE(error_of([&] { run_search_dir(*st.model, st.enc, task, eo, q, nullptr); }).find("--stop-on-significant-drop"),
            std::string::npos);
}

// The metric `name` (and its standard error) of `task` as `hybridize eval` computes it: the truth the
// multi-task score is held to.
eval::Metric eval_metric(CausalLM& model, const eval::TextEncoder& enc, const WeightedTask& t,
                         const std::string& name) {
  for (const auto& m : eval::evaluate_task(model, enc, t.task, t.opt).metrics)
    if (m.name == name) return m;
  ADD_FAILURE() << t.task.name << " has no " << name;
  return {};
}

TEST(SearchRun, MultiTaskScoreIsTheWeightedMeanOfEvalScores) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks_dir, "data/tasks");
  torch::NoGradGuard ng;
  Stories st(dir, "search_run_multi");
  eval::EvalOptions eo;
  eo.progress = false;
  eo.tasks_dir = tasks_dir;
  eo.limit = 40;
  const std::vector<WeightedTask> tasks = search_tasks("arc_easy,piqa", {1, 3}, "", eo);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_DOUBLE_EQ(tasks[0].weight, 0.25);
  EXPECT_DOUBLE_EQ(tasks[1].weight, 0.75);
  EXPECT_EQ(tasks[0].opt.split, "validation");  // the search's default: validation where there is one
  SearchRunOptions o;
  o.model_dir = dir, o.linear = st.tmp / "linear.safetensors", o.out = st.tmp / "run", o.metric = "acc";
  o.search.max_drop = 1.0;
  o.search.replace = 1;

  testing::internal::CaptureStderr();
  const SearchRunResult run = run_search_dir(*st.model, st.enc, tasks, o, nullptr);
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_NE(printed.find("arc_easy x 0.25 (40 documents) + piqa x 0.75 (40 documents)"), std::string::npos) << printed;
  const nlohmann::json& s = run.summary;

  // The base: the weighted mean of eval's scores, its SE the weighted root sum of squares of eval's.
  const eval::Metric a = eval_metric(*st.model, st.enc, tasks[0], "acc"), p = eval_metric(*st.model, st.enc, tasks[1], "acc");
  EXPECT_NEAR(s["base_score"].get<double>(), 0.25 * a.value + 0.75 * p.value, 1e-12);
  EXPECT_NEAR(s["base_stderr"].get<double>(), std::sqrt(0.0625 * a.stderr * a.stderr + 0.5625 * p.stderr * p.stderr), 1e-12);
  EXPECT_EQ(s["task"], "arc_easy,piqa");
  ASSERT_EQ(s["tasks"].size(), 2u);
  EXPECT_EQ(s["tasks"][0]["name"], "arc_easy");
  EXPECT_NEAR(s["tasks"][0]["base_score"].get<double>(), a.value, 1e-12);
  EXPECT_NEAR(s["tasks"][1]["base_score"].get<double>(), p.value, 1e-12);
  EXPECT_EQ(s["tasks"][1]["documents"], 40);
  EXPECT_EQ(s["settings"]["task_weights"], (nlohmann::json{0.25, 0.75}));
  EXPECT_EQ(s["settings"]["split"], "validation,validation");

  // M_opt, exported and evaluated as any model: the same weighted mean.
  ASSERT_EQ(s["M_opt"]["num_linear"], 1);
  auto hybrid = CausalLM::load(o.out / "M_opt");
  const eval::Metric ha = eval_metric(*hybrid, st.enc, tasks[0], "acc"), hp = eval_metric(*hybrid, st.enc, tasks[1], "acc");
  EXPECT_NEAR(s["M_opt"]["score"].get<double>(), 0.25 * ha.value + 0.75 * hp.value, 1e-12);
  EXPECT_NEAR(s["M_opt"]["stderr"].get<double>(), std::sqrt(0.0625 * ha.stderr * ha.stderr + 0.5625 * hp.stderr * hp.stderr),
              1e-12);
  EXPECT_NEAR(s["tasks"][0]["M_opt_score"].get<double>(), ha.value, 1e-12);

  // Every candidate's paired difference is each task's, paired per document, then weighted: against
  // one-task searches of the same candidates.
  std::vector<std::vector<nlohmann::json>> alone;
  for (size_t t = 0; t < 2; ++t) {
    auto one = o;
    one.out = st.tmp / ("alone" + std::to_string(t));
    testing::internal::CaptureStderr();
    run_search_dir(*st.model, st.enc, tasks[t].task, tasks[t].opt, one, nullptr);
    testing::internal::GetCapturedStderr();
    std::ifstream traj(one.out / "trajectory.jsonl");
    std::string line;
    std::getline(traj, line);
    alone.push_back(nlohmann::json::parse(line)["candidates"].get<std::vector<nlohmann::json>>());
  }
  std::ifstream traj(o.out / "trajectory.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(traj, line));
  const auto cands = nlohmann::json::parse(line)["candidates"];
  ASSERT_EQ(cands.size(), size_t(st.model->num_layers()));
  for (size_t i = 0; i < cands.size(); ++i) {
    const auto &c = cands[i], &x = alone[0][i], &y = alone[1][i];
    auto v = [](const nlohmann::json& j, const char* k) { return j[k].get<double>(); };
    EXPECT_NEAR(v(c, "score"), 0.25 * v(x, "score") + 0.75 * v(y, "score"), 1e-12) << line;
    EXPECT_NEAR(v(c, "diff"), 0.25 * v(x, "diff") + 0.75 * v(y, "diff"), 1e-12) << line;
    EXPECT_NEAR(v(c, "diff_stderr"),
                std::sqrt(0.0625 * v(x, "diff_stderr") * v(x, "diff_stderr") + 0.5625 * v(y, "diff_stderr") * v(y, "diff_stderr")),
                1e-12) << line;
    EXPECT_EQ(c["task_scores"], (nlohmann::json{x["score"], y["score"]})) << line;
    EXPECT_FALSE(x.contains("task_scores"));  // one task: the lines it wrote before
  }

  // A resume with other tasks or weights is refused, naming the flag; the same ones replay.
  o.resume = true;
  auto refused = [&](const std::vector<WeightedTask>& ts, const std::string& flag) {
    const std::string err = error_of([&] { run_search_dir(*st.model, st.enc, ts, o, nullptr); });
    EXPECT_NE(err.find("--resume with another " + flag + " "), std::string::npos) << flag << ": " << err;
  };
  refused(search_tasks("arc_easy,piqa", {}, "", eo), "--task-weights");
  refused(search_tasks("piqa,arc_easy", {3, 1}, "", eo), "--task");
  refused(search_tasks("arc_easy", {}, "", eo), "--task");
  testing::internal::CaptureStderr();
  const SearchRunResult again = run_search_dir(*st.model, st.enc, search_tasks("arc_easy,piqa", {0.5, 1.5}, "", eo), o, nullptr);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(again.replayed, 1 + st.model->num_layers());
  EXPECT_EQ(again.result.to_json(), run.result.to_json());
}

TEST(SearchRun, TaskListAndWeightsAreChecked) {
  HYB_REQUIRE_SHARED(tasks_dir, "data/tasks");
  eval::EvalOptions eo;
  eo.tasks_dir = tasks_dir;
  auto err = [&](const std::string& names, const std::vector<double>& w, const std::string& data = "") {
    return error_of([&] { search_tasks(names, w, data, eo); });
  };
  EXPECT_NE(err("arc_easy,piqa", {1}).find("--task-weights: 1 weights for 2 tasks"), std::string::npos)
      << err("arc_easy,piqa", {1});
  EXPECT_NE(err("arc_easy,piqa", {1, -1}).find("--task-weights: -1 is not a positive number"), std::string::npos);
  EXPECT_NE(err("arc_easy,piqa", {1, 0}).find("--task-weights: 0 is not a positive number"), std::string::npos);
  EXPECT_NE(err("arc_easy,arc_easy", {}).find("--task: arc_easy is named twice"), std::string::npos);
  EXPECT_NE(err("arc_easy,piqa", {}, "x.jsonl").find("--data: one file is one task"), std::string::npos);
  EXPECT_NE(err(",", {}).find("--task: "), std::string::npos);
  // One task has weight 1 whatever is given, so its score is its metric exactly.
  EXPECT_EQ(search_tasks("arc_easy", {0.3}, "", eo).at(0).weight, 1.0);
  EXPECT_EQ(search_tasks("arc_easy", {}, "", eo).at(0).weight, 1.0);
}

}  // namespace
}  // namespace hyb
