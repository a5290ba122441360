// Outputs never replace what a command did not create (issue 16, data loss): `export --out` refuses
// an existing file, a non-empty directory, the model directory and any directory above it, and
// builds its result in a temporary sibling renamed into place; `distill` refuses an --out holding
// files of its own (an unrelated log.jsonl) unless resumed; `search` refuses a run directory that
// already holds a result unless --resume. Each refusal is one line naming --out and the path.
#include <torch/torch.h>

#include <fstream>

#include "../test_util.h"
#include "distill/distill.h"
#include "io/fingerprint.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Expects `f` to throw hyb::Error with one line holding every string of `parts`.
template <typename F>
void expect_refused(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "not refused: " << parts.back();
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << m << " (expected '" << p << "')";
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

// Entries of `dir` whose name starts with '.' (leftover temporaries).
int hidden_entries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind('.', 0) == 0;
  return n;
}

// A model directory that only has to exist: every refusal comes before anything is read.
fs::path fake_model(const fs::path& parent) {
  fs::create_directories(parent / "model");
  write(parent / "model" / "config.json", "{}");
  write(parent / "model" / "model.safetensors", "weights");
  write(parent / "linear.safetensors", "modules");
  return parent / "model";
}

TEST(OutputDirs, ExportRefusesWhatItDidNotCreate) {
  const auto dir = test::temp_dir("export_refuses");
  const fs::path model = fake_model(dir / "work");
  const fs::path lin = dir / "work" / "linear.safetensors";
  auto do_export = [&](const fs::path& out) { export_hybrid(model, lin, {0}, out); };

  fs::create_directories(dir / "full");
  write(dir / "full" / "notes.txt", "mine");
  expect_refused([&] { do_export(dir / "full"); }, {"--out", (dir / "full").string(), "is not empty"});
  EXPECT_EQ(read(dir / "full" / "notes.txt"), "mine");

  write(dir / "file.txt", "mine");
  expect_refused([&] { do_export(dir / "file.txt"); }, {"--out", (dir / "file.txt").string(), "not a directory"});
  EXPECT_EQ(read(dir / "file.txt"), "mine");

  expect_refused([&] { do_export(model); }, {"--out", model.string(), "is an input"});
  expect_refused([&] { do_export(model.string() + "/"); }, {"--out", "is an input"});
  expect_refused([&] { do_export(model / ".." / "model"); }, {"--out", "is an input"});
  expect_refused([&] { do_export(dir / "work"); }, {"--out", (dir / "work").string(), "contains an input"});
  expect_refused([&] { do_export(dir); }, {"--out", dir.string(), "contains an input"});
  EXPECT_EQ(read(model / "model.safetensors"), "weights");
  EXPECT_EQ(read(lin), "modules");
  EXPECT_EQ(hidden_entries(dir), 0);
}

TEST(OutputDirs, ExportCliRefusalIsOneLine) {
  HYB_REQUIRE_BINARY(exe);
  const auto dir = test::temp_dir("export_cli_refuses");
  const fs::path model = fake_model(dir);
  int rc = 0;
  const std::string err = test::run_command("'" + exe + "' export --model '" + model.string() + "' --linear '" +
                                                (dir / "linear.safetensors").string() + "' --layers 0 --out '" +
                                                dir.string() + "' 2>&1 >/dev/null",
                                            rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(err.rfind("error: --out: '" + dir.string() + "' contains an input", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(read(model / "model.safetensors"), "weights");
}

TEST(OutputDirs, ExportWritesANewOrEmptyDirectoryWhole) {
  HYB_REQUIRE_SHARED(model_dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  const auto dir = test::temp_dir("export_fresh");
  auto model = CausalLM::load(model_dir);
  auto s = LinearSettings::for_model("gdn", model->config());
  auto m = make_linear_mixer_from_attention(s, model->attention_weights(1), 7);
  save_linear_layers(dir / "linear.safetensors", s, {{1, m.get()}}, model_fingerprint(model_dir),
                     model_dir.string());

  export_hybrid(model_dir, dir / "linear.safetensors", {1}, dir / "out" / "new");
  EXPECT_EQ(CausalLM::load(dir / "out" / "new")->config().num_linear_layers(), 1);
  fs::create_directories(dir / "empty");
  export_hybrid(model_dir, dir / "linear.safetensors", {1}, dir / "empty");
  EXPECT_TRUE(fs::exists(dir / "empty" / "model.safetensors"));
  // A failed export (layer 2 has no module) leaves neither a result nor a temporary behind.
  EXPECT_THROW(export_hybrid(model_dir, dir / "linear.safetensors", {1, 2}, dir / "failed"), Error);
  EXPECT_FALSE(fs::exists(dir / "failed"));
  EXPECT_EQ(hidden_entries(dir), 0);
  EXPECT_EQ(hidden_entries(dir / "out"), 0);
}

TEST(OutputDirs, DistillKeepsAnUnrelatedLog) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  DistillOptions o;
  o.model_dir = model;
  o.out_dir = test::temp_dir("distill_unrelated_log");
  o.mixer = "gla";
  o.data = {corpus.string()};
  o.seq_len = 32;
  o.batch = 2;
  o.tokens = 2 * 2 * 32;
  o.eval_sequences = 2;
  o.threads = 1;
  o.progress = false;
  write(o.out_dir / "log.jsonl", "my own log\n");
  expect_refused([&] { run_distill(o); }, {"--out", o.out_dir.string(), "is not empty"});
  EXPECT_EQ(read(o.out_dir / "log.jsonl"), "my own log\n");
  // --resume still asks for the run's own checkpoint, and touches nothing without one.
  o.resume = true;
  expect_refused([&] { run_distill(o); }, {"checkpoint.safetensors", "no checkpoint to resume from"});
  EXPECT_EQ(read(o.out_dir / "log.jsonl"), "my own log\n");
}

TEST(OutputDirs, SearchRefusesAnExistingResultWithoutResume) {
  HYB_REQUIRE_BINARY(exe);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = test::temp_dir("search_refuses");
  write(dir / "task.jsonl", R"({"context": "Once upon a time", "choices": [" there", " cat"], "gold": 0})" "\n");
  fs::create_directories(dir / "run" / "M_best");
  write(dir / "run" / "M_best" / "config.json", "mine");
  int rc = 0;
  const std::string err = test::run_command("'" + exe + "' search --model '" + model.string() + "' --linear '" +
                                                (dir / "linear.safetensors").string() + "' --task toy --data '" +
                                                (dir / "task.jsonl").string() + "' --device cpu --threads 1 --out '" +
                                                (dir / "run").string() + "' 2>&1 >/dev/null",
                                            rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("error: --out: '" + (dir / "run").string() + "' is not empty: pass --resume"), std::string::npos)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(read(dir / "run" / "M_best" / "config.json"), "mine");
}

}  // namespace
}  // namespace hyb
