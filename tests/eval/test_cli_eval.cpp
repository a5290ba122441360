// `hybridize eval` end to end on stories260K: the results file has the harness's shape, the
// samples file one line per document, and a malformed task file fails naming file and line.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>

#include "../test_util.h"

namespace hyb {
namespace {

// Runs a shell command; returns (exit status, stdout + stderr).
std::pair<int, std::string> run(const std::string& cmd) {
  int rc = -1;
  std::string out = test::run_command(cmd + " 2>&1", rc);
  return {rc, out};
}

TEST(EvalCli, ResultsAndSamples) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  HYB_REQUIRE_BINARY(bin);
  auto dir = test::temp_dir("cli_eval");
  auto [rc, out] = run(fmt::format("{} eval --model {} --task arc_easy,lambada_openai --limit 5 --tasks-dir {} "
                                   "--out {}/r.json --samples {}/s.jsonl --no-progress",
                                   bin, model.string(), tasks.string(), dir.string(), dir.string()));
  ASSERT_EQ(rc, 0) << out;
  nlohmann::json r;
  std::ifstream(dir / "r.json") >> r;
  for (const char* key : {"acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"})
    EXPECT_TRUE(r["results"]["arc_easy"].contains(key)) << key;
  EXPECT_TRUE(r["results"]["lambada_openai"].contains("perplexity,none"));
  EXPECT_EQ(r["n-samples"]["arc_easy"]["effective"], 5);
  EXPECT_EQ(r["n-samples"]["arc_easy"]["original"], 2376);
  EXPECT_EQ(r["configs"]["arc_easy"]["split"], "test");
  std::ifstream s(dir / "s.jsonl");
  int lines = 0;
  for (std::string line; std::getline(s, line); ++lines) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("doc_id") && j.contains("requests") && j.contains("acc"));
  }
  EXPECT_EQ(lines, 10);
  EXPECT_NE(out.find("arc_easy"), std::string::npos);  // the summary table
}

TEST(EvalCli, MalformedDataNamesFileAndLine) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_BINARY(bin);
  auto dir = test::temp_dir("cli_eval_bad");
  std::ofstream(dir / "bad.jsonl") << "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n{\"context\": 3\n";
  auto [rc, out] = run(fmt::format("{} eval --model {} --data {}/bad.jsonl", bin, model.string(), dir.string()));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("bad.jsonl:2"), std::string::npos) << out;
}

// A device that is not one gets one line naming the flag, from every model-running command.
TEST(EvalCli, BadDeviceNamesTheFlag) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_BINARY(bin);
  for (const char* command : {"eval --task arc_easy", "generate --prompt x", "perplexity --data x"}) {
    auto [rc, out] = run(fmt::format("{} {} --model {} --device gpu", bin, command, model.string()));
    EXPECT_EQ(rc, 1) << command;
    EXPECT_EQ(out, "error: --device: 'gpu' is not cpu, cuda, cuda:N or auto\n") << command;
  }
}

// --kernels takes fused or reference, from every command that runs linear modules; anything else
// is refused by the parser naming the flag (CLI11's exit code for a bad value is 105).
TEST(EvalCli, BadKernelsNamesTheFlag) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_BINARY(bin);
  for (const char* command : {"eval --task arc_easy", "generate --prompt x", "perplexity --data x",
                              "distill --mixer gla --data x --out /nonexistent/x", "bench"}) {
    auto [rc, out] = run(fmt::format("{} {} --model {} --kernels triton", bin, command, model.string()));
    EXPECT_NE(rc, 0) << command;
    EXPECT_NE(out.find("--kernels"), std::string::npos) << command << ": " << out;
    EXPECT_NE(out.find("triton"), std::string::npos) << command << ": " << out;
  }
}

}  // namespace
}  // namespace hyb
