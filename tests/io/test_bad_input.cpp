// Bad input gives a one-line error naming the file and the problem: never a crash, never a
// silent wrong answer. Library-level (hyb::Error) and CLI-level (exit code, stderr) checks.
#include <torch/torch.h>

#include <cstdio>
#include <fstream>

#include "../test_util.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Expects `f` to throw hyb::Error whose message contains `file` and `problem`.
template <typename F>
void expect_error(F f, const std::string& file, const std::string& problem) {
  try {
    f();
    ADD_FAILURE() << "no error for " << file << " (" << problem << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

std::string valid_file(const fs::path& dir) {
  auto p = dir / "ok.safetensors";
  save_safetensors(p, {{"a", at::arange(6, at::kFloat).view({2, 3})}, {"b", at::ones({4}, at::kBFloat16)}});
  return read(p);
}

TEST(BadInput, SafetensorsRoundTrip) {
  auto dir = test::temp_dir("st_roundtrip");
  valid_file(dir);
  auto f = SafetensorsFile::open(dir / "ok.safetensors");
  EXPECT_TRUE(at::equal(f->tensor("a"), at::arange(6, at::kFloat).view({2, 3})));
  EXPECT_EQ(f->tensor("b").scalar_type(), at::kBFloat16);
  EXPECT_FALSE(fs::exists(dir / "ok.safetensors.tmp"));
}

TEST(BadInput, TruncatedSafetensors) {
  auto dir = test::temp_dir("st_trunc");
  std::string good = valid_file(dir);
  write(dir / "short.safetensors", good.substr(0, 5));
  expect_error([&] { SafetensorsFile::open(dir / "short.safetensors"); }, "short.safetensors", "truncated");
  write(dir / "cut.safetensors", good.substr(0, good.size() - 3));
  expect_error([&] { SafetensorsFile::open(dir / "cut.safetensors"); }, "cut.safetensors", "leave the data area");
  write(dir / "nohdr.safetensors", good.substr(0, 20));
  expect_error([&] { SafetensorsFile::open(dir / "nohdr.safetensors"); }, "nohdr.safetensors", "header length");
}

TEST(BadInput, OffsetsOutsideFile) {
  auto dir = test::temp_dir("st_offsets");
  std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,1600]}})";
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write(dir / "bad.safetensors", s + h + std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(dir / "bad.safetensors"); }, "bad.safetensors", "leave the data area");
  h = R"({"w":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}})";
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write(dir / "dtype.safetensors", s + h + std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(dir / "dtype.safetensors"); }, "dtype.safetensors", "unknown dtype");
  h = R"({"w":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}})";
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write(dir / "count.safetensors", s + h + std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(dir / "count.safetensors"); }, "count.safetensors", "elements");
  h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})";  // not JSON
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write(dir / "json.safetensors", s + h + std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(dir / "json.safetensors"); }, "json.safetensors", "not valid JSON");
}

// Copies a fixture so that one file of it can be broken.
fs::path copy_fixture(const fs::path& src, const std::string& name) {
  auto dir = test::temp_dir(name);
  for (const auto& e : fs::directory_iterator(src)) fs::copy(e.path(), dir / e.path().filename());
  return dir;
}

TEST(BadInput, MissingShard) {
  HYB_REQUIRE_SHARED(src, "data/fixtures/tiny-llama3");
  auto dir = copy_fixture(src, "missing_shard");
  fs::remove(dir / "model-00007-of-00017.safetensors");
  expect_error([&] { CausalLM::load(dir); }, "model-00007-of-00017.safetensors", "missing");
}

TEST(BadInput, ConfigProblems) {
  HYB_REQUIRE_SHARED(src, "data/fixtures/tiny-qwen2");
  auto dir = copy_fixture(src, "bad_config");
  auto cfg = nlohmann::json::parse(read(src / "config.json"));
  auto j = cfg;
  j["model_type"] = "mamba";
  write(dir / "config.json", j.dump());
  expect_error([&] { CausalLM::load(dir); }, "config.json", "unknown model_type 'mamba'");
  j = cfg;
  j.erase("hidden_size");
  write(dir / "config.json", j.dump());
  expect_error([&] { CausalLM::load(dir); }, "config.json", "missing required key 'hidden_size'");
  write(dir / "config.json", "{\"model_type\": ");
  expect_error([&] { CausalLM::load(dir); }, "config.json", "not valid JSON");
  j = cfg;
  j["intermediate_size"] = 128;  // the weights say 160
  write(dir / "config.json", j.dump());
  expect_error([&] { CausalLM::load(dir); }, "model.safetensors", "the config implies");
}

TEST(BadInput, UnexpectedAndMissingTensor) {
  HYB_REQUIRE_SHARED(src, "data/fixtures/tiny-qwen2");
  auto dir = test::temp_dir("extra_tensor");
  fs::copy(src / "config.json", dir / "config.json");
  auto f = SafetensorsFile::open(src / "model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> ts;
  for (const auto& [name, e] : f->entries()) ts.emplace_back(name, f->tensor(name));
  ts.emplace_back("model.layers.0.mystery.weight", at::zeros({2}));
  save_safetensors(dir / "model.safetensors", ts);
  expect_error([&] { CausalLM::load(dir); }, "model.safetensors", "unexpected tensor 'model.layers.0.mystery.weight'");
  ts.pop_back();
  ts.erase(std::remove_if(ts.begin(), ts.end(), [](auto& p) { return p.first == "model.norm.weight"; }), ts.end());
  save_safetensors(dir / "model.safetensors", ts);
  expect_error([&] { CausalLM::load(dir); }, dir.string(), "missing tensor 'model.norm.weight'");
}

// The CLI turns the same errors into one line on stderr and a non-zero exit code.
TEST(BadInput, CliReportsOneLine) {
  HYB_REQUIRE_BINARY(exe);
  auto dir = test::temp_dir("cli_bad");
  write(dir / "config.json", "{\"model_type\": \"gpt2\", \"hidden_size\": 8}");
  const std::string cmd = exe + " info --model " + dir.string() + " 2>" + (dir / "err.txt").string();
  const int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  const std::string err = read(dir / "err.txt");
  EXPECT_EQ(err.rfind("error: "), 0u) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown model_type 'gpt2'"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace hyb
