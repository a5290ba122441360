// An exported hybrid cannot be mistaken for its parent (issue 18): config.json names model_type
// "hybridize" and architecture HybridizeForCausalLM, records the parent decoder and its q/k/v
// biases, maps transformers' Auto classes to the modeling code shipped beside the weights, and that
// code is the repository's python/hybridize_hf, byte for byte (embedded at build time). hybridize
// itself reads the hybrid back as its parent's decoder; the Python side is tested in python/tests.
#include <torch/torch.h>

#include <fstream>

#include "../test_util.h"
#include "io/config.h"
#include "io/fingerprint.h"
#include "io/hf_code.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

TEST(ExportIdentity, HybridHasItsOwnNamesAndShipsItsCode) {
  HYB_REQUIRE_SHARED(model_dir, "data/fixtures/tiny-qwen2");
  torch::NoGradGuard ng;
  const auto dir = test::temp_dir("export_identity");
  auto model = CausalLM::load(model_dir);
  auto s = LinearSettings::for_model("gla", model->config());
  auto m = make_linear_mixer_from_attention(s, model->attention_weights(1), 7);
  save_linear_layers(dir / "linear.safetensors", s, {{1, m.get()}}, model_fingerprint(model_dir),
                     model_dir.string());
  export_hybrid(model_dir, dir / "linear.safetensors", {1}, dir / "hybrid");

  auto j = nlohmann::json::parse(read_file(dir / "hybrid" / "config.json"));
  EXPECT_EQ(j["model_type"], "hybridize");
  EXPECT_EQ(j["architectures"], nlohmann::json::array({"HybridizeForCausalLM"}));
  EXPECT_EQ(j["parent_model_type"], "qwen2");
  EXPECT_EQ(j["attention_bias"], true);
  EXPECT_EQ(j["auto_map"]["AutoModelForCausalLM"], "modeling_hybridize.HybridizeForCausalLM");
  EXPECT_EQ(j["linear_attention"]["norm_eps"], 1e-6);
  // Every embedded file is there, equal to its source in the repository (so a stale build fails).
  const auto src = test::project_root() / "python" / "hybridize_hf";
  int sources = 0;
  for (const auto& e : fs::directory_iterator(src)) sources += e.path().extension() == ".py";
  EXPECT_EQ(static_cast<int>(hf_code_files().size()), sources);
  for (const auto& [name, text] : hf_code_files()) {
    EXPECT_EQ(read_file(dir / "hybrid" / name), text) << name;
    EXPECT_EQ(read_file(src / name), text) << name << " differs from the embedded copy: rebuild";
  }
  for (const char* f : {"configuration_hybridize.py", "modeling_hybridize.py"})
    EXPECT_TRUE(fs::exists(dir / "hybrid" / f)) << f;

  // hybridize reads it back as a Qwen2 decoder with one linear layer.
  auto back = CausalLM::load(dir / "hybrid");
  EXPECT_EQ(back->config().model_type, "qwen2");
  EXPECT_TRUE(back->config().attention_bias);
  EXPECT_EQ(back->config().num_linear_layers(), 1);
}

TEST(ExportIdentity, ConfigNamesRoundTrip) {
  nlohmann::json j = {{"model_type", "llama"}, {"hidden_size", 8}, {"intermediate_size", 16},
                      {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"vocab_size", 32},
                      {"architectures", {"LlamaForCausalLM"}}};
  ModelConfig c = ModelConfig::from_json(j, "test");
  c.layer_types[1] = kLinearAttention;
  c.linear = {{"kind", "gdn"}};
  auto hybrid = c.to_json();
  EXPECT_EQ(hybrid["model_type"], "hybridize");
  EXPECT_EQ(hybrid["parent_model_type"], "llama");
  EXPECT_EQ(hybrid["attention_bias"], false);
  ModelConfig again = ModelConfig::from_json(hybrid, "hybrid");
  EXPECT_EQ(again.model_type, "llama");
  EXPECT_EQ(again.num_linear_layers(), 1);
  // Every layer full attention again: the parent's names come back.
  again.layer_types[1] = kFullAttention;
  auto parent = again.to_json();
  EXPECT_EQ(parent["model_type"], "llama");
  EXPECT_EQ(parent["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_FALSE(parent.contains("auto_map") || parent.contains("parent_model_type") || parent.contains("linear_attention"));

  auto no_parent = hybrid;
  no_parent.erase("parent_model_type");
  EXPECT_THROW(ModelConfig::from_json(no_parent, "x"), Error);
  auto bad_parent = hybrid;
  bad_parent["parent_model_type"] = "gpt2";
  try {
    ModelConfig::from_json(bad_parent, "cfg.json");
    ADD_FAILURE() << "accepted parent_model_type gpt2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parent_model_type 'gpt2'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hyb
