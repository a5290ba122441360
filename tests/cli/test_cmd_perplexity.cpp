// `hybridize perplexity --linear` end to end: modules distilled from another teacher are refused
// before any work, in one line naming the file and what differs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../test_util.h"
#include "linear_fixture.h"
#include "io/fingerprint.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"

namespace fs = std::filesystem;

TEST(CliPerplexity, ModulesFromAnotherTeacherAreRefused) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(data, "data/corpora/tinystories/tinystories_val.txt");
  torch::NoGradGuard ng;
  const auto tmp = hyb::test::temp_dir("cli_perplexity_teacher");
  auto model = hyb::CausalLM::load(dir);
  auto s = hyb::LinearSettings::for_model("gdn", model->config());
  auto m = hyb::make_linear_mixer_from_attention(s, model->attention_weights(0), 1);
  hyb::save_linear_layers(tmp / "linear.safetensors", s, {{0, m.get()}}, hyb::model_fingerprint(dir), dir.string());
  // The same weights under another config.json (rms_norm_eps): another teacher.
  fs::create_directories(tmp / "other");
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  cfg["rms_norm_eps"] = 1e-6;
  std::ofstream(tmp / "other" / "config.json") << cfg.dump();
  fs::copy_file(dir / "model.safetensors", tmp / "other" / "model.safetensors");

  const std::string cmd = "'" + bin + "' perplexity --tokenizer '" + dir.string() + "' --data '" + data.string() +
                          "' --seq-len 32 --sequences 2 --linear '" + (tmp / "linear.safetensors").string() +
                          "' --model ";
  int rc = -1;
  const std::string out = hyb::test::run_command(cmd + "'" + (tmp / "other").string() + "' 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out.rfind("error: " + (tmp / "linear.safetensors").string() + ": distilled from another teacher", 0), 0u)
      << out;
  EXPECT_NE(out.find("config.json differs"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  // Its own teacher runs.
  hyb::test::run_command(cmd + "'" + dir.string() + "' 2>&1", rc);
  EXPECT_EQ(rc, 0);
}

// An exported hybrid is no teacher: its row is named for its linear layers and lists them as
// replaced (it said "teacher" with replaced: []). The export takes a layer list with ranges.
TEST(CliPerplexity, AnExportedHybridIsNamedWithItsLinearLayers) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(data, "data/corpora/tinystories/tinystories_val.txt");
  const auto tmp = hyb::test::temp_dir("cli_perplexity_hybrid");
  hyb::test::write_modules_from_attention(dir, tmp / "linear.safetensors");
  int rc = -1;
  const std::string exe = "'" + bin + "' ";
  std::string out = hyb::test::run_command(exe + "export --model '" + dir.string() + "' --linear '" +
                                               (tmp / "linear.safetensors").string() + "' --layers 0-1,3 --out '" +
                                               (tmp / "hybrid").string() + "' 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  const auto cfg = nlohmann::json::parse(std::ifstream(tmp / "hybrid" / "config.json"));
  EXPECT_EQ(cfg["layer_types"], nlohmann::json({"linear_attention", "linear_attention", "full_attention",
                                                "linear_attention", "full_attention"}));

  out = hyb::test::run_command(exe + "perplexity --model '" + (tmp / "hybrid").string() + "' --data '" + data.string() +
                                   "' --seq-len 32 --sequences 2 --no-progress --out '" + (tmp / "ppl.json").string() +
                                   "' 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("teacher"), std::string::npos) << out;
  EXPECT_NE(out.find("hybrid (3 linear)"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(std::ifstream(tmp / "ppl.json"));
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["name"], "hybrid (3 linear)");
  EXPECT_EQ(j["results"][0]["replaced"], nlohmann::json({0, 1, 3}));
}
