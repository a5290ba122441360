// Provenance of distilled modules: linear.safetensors records its teacher's fingerprint (config.json
// and the weights' header), and consumers refuse modules from another teacher with one line naming
// the file and what differs; files from before the fingerprint are accepted with a warning.
#include <torch/torch.h>

#include <fstream>

#include "../test_util.h"
#include "io/fingerprint.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "util/error.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;
using test::error_of;

// Modules for every layer of `model`, saved with `teacher_dir`'s fingerprint.
void save_modules(const fs::path& path, CausalLM& model, const fs::path& teacher_dir) {
  auto s = LinearSettings::for_model("gdn", model.config());
  std::vector<std::unique_ptr<TokenMixer>> keep;
  std::map<int64_t, TokenMixer*> modules;
  for (int64_t l = 0; l < model.num_layers(); ++l) {
    keep.push_back(make_linear_mixer_from_attention(s, model.attention_weights(l), 7 + l));
    modules[l] = keep.back().get();
  }
  save_linear_layers(path, s, modules, model_fingerprint(teacher_dir), teacher_dir.string());
}

// Rewrites a safetensors file with its tensors converted by `convert` and metadata filtered by `keep`.
void rewrite(const fs::path& from, const fs::path& to, at::ScalarType dtype,
             const std::function<bool(const std::string&)>& keep_meta) {
  auto f = SafetensorsFile::open(from);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, e] : f->entries()) tensors.emplace_back(name, f->tensor(name).to(dtype).clone());
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : f->metadata())
    if (keep_meta(k)) meta[k] = v;
  save_safetensors(to, tensors, meta);
}

TEST(LinearFileProvenance, FingerprintIgnoresFormattingButNotContent) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  auto tmp = test::temp_dir("fingerprint");
  const ModelFingerprint fp = model_fingerprint(dir);
  EXPECT_EQ(fp.config.size(), 16u);
  EXPECT_EQ(fp, model_fingerprint(dir));
  // The same config, re-indented: the same fingerprint.
  fs::create_directories(tmp / "same");
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  std::ofstream(tmp / "same" / "config.json") << cfg.dump(4);
  fs::copy_file(dir / "model.safetensors", tmp / "same" / "model.safetensors");
  EXPECT_EQ(model_fingerprint(tmp / "same"), fp);
  // Another rms_norm_eps: another config fingerprint, the same weights'.
  fs::create_directories(tmp / "eps");
  cfg["rms_norm_eps"] = 1e-6;
  std::ofstream(tmp / "eps" / "config.json") << cfg.dump();
  fs::copy_file(dir / "model.safetensors", tmp / "eps" / "model.safetensors");
  EXPECT_NE(model_fingerprint(tmp / "eps").config, fp.config);
  EXPECT_EQ(model_fingerprint(tmp / "eps").weights, fp.weights);
}

TEST(LinearFileProvenance, ModulesFromAnotherTeacherAreRefused) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  auto tmp = test::temp_dir("linear_provenance");
  auto model = CausalLM::load(dir);
  const fs::path lin = tmp / "linear.safetensors";
  save_modules(lin, *model, dir);

  // The file records the teacher, and its own teacher passes.
  const LinearFile file = LinearFile::open(lin);
  ASSERT_TRUE(file.teacher().has_value());
  EXPECT_EQ(*file.teacher(), model_fingerprint(dir));
  EXPECT_EQ(file.teacher_dir(), dir.string());
  EXPECT_NO_THROW(file.check_teacher(dir));
  EXPECT_NO_THROW(export_hybrid(dir, lin, {1}, tmp / "ok"));
  // Extending that hybrid with the same modules: checked against the teacher the export recorded.
  EXPECT_NO_THROW(export_hybrid(tmp / "ok", lin, {2}, tmp / "ok2"));

  // Another teacher: its config.json differs.
  fs::create_directories(tmp / "other_config");
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  cfg["rms_norm_eps"] = 1e-6;
  std::ofstream(tmp / "other_config" / "config.json") << cfg.dump();
  fs::copy_file(dir / "model.safetensors", tmp / "other_config" / "model.safetensors");
  std::string err = error_of([&] { file.check_teacher(tmp / "other_config"); });
  EXPECT_NE(err.find(lin.string()), std::string::npos) << err;
  EXPECT_NE(err.find("another teacher"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json differs"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;  // one line
  err = error_of([&] { export_hybrid(tmp / "other_config", lin, {1}, tmp / "bad"); });
  EXPECT_NE(err.find("config.json differs"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(tmp / "bad"));
  auto other = CausalLM::load(tmp / "other_config");
  err = error_of([&] { load_linear_layers(*other, lin, {1}, tmp / "other_config"); });
  EXPECT_NE(err.find("another teacher"), std::string::npos) << err;

  // Another teacher: the same config, weights stored in another dtype.
  fs::create_directories(tmp / "other_weights");
  fs::copy_file(dir / "config.json", tmp / "other_weights" / "config.json");
  rewrite(dir / "model.safetensors", tmp / "other_weights" / "model.safetensors", at::kBFloat16,
          [](const std::string&) { return true; });
  err = error_of([&] { file.check_teacher(tmp / "other_weights"); });
  EXPECT_NE(err.find("weights' names, shapes or dtypes differ"), std::string::npos) << err;
}

TEST(LinearFileProvenance, FilesWithoutATeacherAreAcceptedWithAWarning) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  auto tmp = test::temp_dir("linear_provenance_old");
  auto model = CausalLM::load(dir);
  save_modules(tmp / "new.safetensors", *model, dir);
  rewrite(tmp / "new.safetensors", tmp / "old.safetensors", at::kFloat,
          [](const std::string& k) { return k.rfind("teacher", 0) != 0; });
  const LinearFile old = LinearFile::open(tmp / "old.safetensors");
  EXPECT_FALSE(old.teacher().has_value());
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(old.check_teacher(dir));
  const std::string warned = testing::internal::GetCapturedStderr();
  EXPECT_NE(warned.find("warning: " + (tmp / "old.safetensors").string()), std::string::npos) << warned;
  EXPECT_NE(warned.find("records no teacher"), std::string::npos) << warned;
  EXPECT_EQ(std::count(warned.begin(), warned.end(), '\n'), 1) << warned;
  EXPECT_NO_THROW(load_linear_layers(*model, tmp / "old.safetensors", {0}, dir));
}

}  // namespace
}  // namespace hyb
