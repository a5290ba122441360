// Bad input gives a one-line error naming the file and the problem: never a crash, never a
// silent wrong answer. Library-level (hyb::Error) and CLI-level (exit code, stderr) checks.
#include <torch/torch.h>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "../test_util.h"
#include "io/config.h"
#include "io/fingerprint.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
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

// A safetensors file from its header text and data bytes.
std::string st_bytes(const std::string& h, const std::string& data) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return s + h + data;
}

// The reference library's rules: the tensors tile the data area exactly (issue 16: a header length
// one byte short read every tensor one byte off; aliases, holes and trailing bytes were accepted).
TEST(BadInput, SafetensorsTilesTheDataExactly) {
  auto dir = test::temp_dir("st_tiles");
  std::string good = valid_file(dir);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(good[i]);
  std::string shorter = good;
  for (int i = 0; i < 8; ++i) shorter[i] = static_cast<char>(((n - 1) >> (8 * i)) & 0xff);
  write(dir / "short_header.safetensors", shorter);
  expect_error([&] { SafetensorsFile::open(dir / "short_header.safetensors"); }, "short_header.safetensors",
               "1 trailing bytes after the last tensor");
  write(dir / "alias.safetensors",
        st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                 std::string(8, '\0')));
  expect_error([&] { SafetensorsFile::open(dir / "alias.safetensors"); }, "alias.safetensors",
               "tensor 'b': data_offsets [0, 8] overlap another tensor's bytes");
  write(dir / "hole.safetensors", st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0')));
  expect_error([&] { SafetensorsFile::open(dir / "hole.safetensors"); }, "hole.safetensors", "leave a hole");
  write(dir / "trailing.safetensors", good + "junk");
  expect_error([&] { SafetensorsFile::open(dir / "trailing.safetensors"); }, "trailing.safetensors", "4 trailing bytes");
  write(dir / "huge.safetensors",
        st_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", ""));
  expect_error([&] { SafetensorsFile::open(dir / "huge.safetensors"); }, "huge.safetensors", "overflows");
  write(dir / "empty.safetensors", st_bytes(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""));
  EXPECT_EQ(SafetensorsFile::open(dir / "empty.safetensors")->tensor("e").numel(), 0);
}

// Regular files only: a FIFO or a directory named model.safetensors is an error, not a hang.
TEST(BadInput, SafetensorsRegularFilesOnly) {
  auto dir = test::temp_dir("st_regular");
  fs::create_directories(dir / "d" / "model.safetensors");
  expect_error([&] { WeightStore::open_dir(dir / "d"); }, "model.safetensors", "not a regular file (a directory)");
  fs::create_directories(dir / "f");
  ASSERT_EQ(::mkfifo((dir / "f" / "model.safetensors").c_str(), 0600), 0);
  expect_error([&] { WeightStore::open_dir(dir / "f"); }, "model.safetensors", "not a regular file (a FIFO)");
}

// A copy of tiny-qwen2 in a fresh directory `name`: its config.json, and its weights as a list
// for the test to alter before save_safetensors(dir / "model.safetensors", tensors).
struct ModelCopy {
  fs::path dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
};
ModelCopy copy_tiny_qwen2(const fs::path& src, const std::string& name) {
  ModelCopy c{test::temp_dir(name), {}};
  fs::copy(src / "config.json", c.dir / "config.json");
  auto f = SafetensorsFile::open(src / "model.safetensors");
  for (const auto& [tensor, e] : f->entries()) c.tensors.emplace_back(tensor, f->tensor(tensor));
  return c;
}

// A weight stored as integers is refused, naming the file and the tensor, never reinterpreted.
TEST(BadInput, IntegerWeightRefused) {
  HYB_REQUIRE_SHARED(src, "data/fixtures/tiny-qwen2");
  auto copy = copy_tiny_qwen2(src, "int_weight");
  const fs::path& dir = copy.dir;  // (no structured bindings: lambdas below capture these)
  auto& ts = copy.tensors;
  for (auto& [name, t] : ts)
    if (name == "model.norm.weight") t = t.to(at::kInt);
  save_safetensors(dir / "model.safetensors", ts);
  expect_error([&] { CausalLM::load(dir); }, "model.safetensors", "tensor 'model.norm.weight' has dtype I32");
}

// The same for a distilled-modules file: an integer tensor is refused, not converted to floats.
TEST(BadInput, IntegerModuleTensorRefused) {
  HYB_REQUIRE_SHARED(src, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  auto dir = test::temp_dir("int_module");
  auto model = CausalLM::load(src);
  auto s = LinearSettings::for_model("gdn", model->config());
  auto m = make_linear_mixer_from_attention(s, model->attention_weights(0), 7);
  save_linear_layers(dir / "good.safetensors", s, {{0, m.get()}}, model_fingerprint(src), src.string());
  auto f = SafetensorsFile::open(dir / "good.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> ts;
  std::string victim;
  for (const auto& [name, e] : f->entries()) {
    const bool first = victim.empty();
    if (first) victim = name;
    ts.emplace_back(name, first ? f->tensor(name).to(at::kInt) : f->tensor(name));
  }
  save_safetensors(dir / "int.safetensors", ts, f->metadata());
  expect_error([&] { LinearFile::open(dir / "int.safetensors").module(0, at::kCPU, at::kFloat); }, "int.safetensors",
               "tensor '" + victim + "' has dtype I32 (expected floating point");
}

// A distilled-modules file whose settings describe modules far larger than its tensors (a seed of
// fuzz/fuzz_linear_file with its head_dim raised): refused before a module of that size is built to
// learn its shapes. It used to reach LibTorch's allocator (its error text and trace). (A hidden_size of
// 65536 made `perplexity` allocate 18 GB and be killed: not a case a test can afford to run.)
TEST(BadInput, ModuleSettingsLargerThanTheFileRefused) {
  torch::NoGradGuard ng;
  auto dir = test::temp_dir("huge_module_settings");
  LinearSettings s;
  s.kind = "gla", s.hidden_size = 32, s.num_heads = 4, s.num_kv_heads = 2, s.head_dim = 8;
  auto m = make_linear_mixer(s, 7);
  save_linear_layers(dir / "good.safetensors", s, {{0, m.get()}}, ModelFingerprint{"c", "w"}, "teacher");
  EXPECT_NO_THROW(LinearFile::open(dir / "good.safetensors"));
  auto f = SafetensorsFile::open(dir / "good.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> ts;
  for (const auto& [name, e] : f->entries()) ts.emplace_back(name, f->tensor(name));
  auto meta = f->metadata();
  const auto good = nlohmann::json::parse(meta.at("linear_attention"));
  // Each size that sets a parameter's shape: the projections', GLA's gate rank, the convolutions' width.
  for (const auto& [key, kind] : {std::pair<std::string, std::string>{"head_dim", "gla"}, {"gate_low_rank", "gla"},
                                  {"conv_size", "gdn"}}) {
    auto settings = good;
    settings["kind"] = kind;
    settings[key] = int64_t(1) << 30;
    meta["linear_attention"] = settings.dump();
    save_safetensors(dir / ("huge_" + key + ".safetensors"), ts, meta);
    expect_error([&] { LinearFile::open(dir / ("huge_" + key + ".safetensors")); }, "huge_" + key, "bytes of tensors hold");
  }
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

// Values out of range are refused naming config.json and the key, not carried into the model.
TEST(BadInput, ConfigRanges) {
  auto dir = test::temp_dir("config_ranges");
  const nlohmann::json base = {{"model_type", "llama"},  {"hidden_size", 8},       {"intermediate_size", 16},
                               {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"vocab_size", 32}};
  write(dir / "config.json", base.dump());
  EXPECT_NO_THROW(ModelConfig::load(dir));
  auto expect_refused = [&](const char* key, const nlohmann::json& value, const std::string& problem) {
    auto j = base;
    j[key] = value;
    write(dir / "config.json", j.dump());
    expect_error([&] { ModelConfig::load(dir); }, "config.json", problem);
  };
  expect_refused("rope_theta", 0, "'rope_theta' must be positive, got 0");
  expect_refused("rope_theta", -10000.0, "'rope_theta' must be positive");
  expect_refused("rope_theta", "big", "'rope_theta' must be a number");
  expect_refused("max_position_embeddings", 0, "'max_position_embeddings' must be positive, got 0");
  expect_refused("max_position_embeddings", -1, "'max_position_embeddings' must be positive, got -1");
  expect_refused("rms_norm_eps", -1e-6, "'rms_norm_eps' must be positive");
  expect_refused("rms_norm_eps", 0, "'rms_norm_eps' must be positive");
  expect_refused("num_key_value_heads", 0, "'num_key_value_heads' must be positive");
  expect_refused("head_dim", -4, "'head_dim' must be positive");
  auto j = base;
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", -8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  write(dir / "config.json", j.dump());
  expect_error([&] { ModelConfig::load(dir); }, "config.json", "'factor' must be positive");
}

// tokenizer_config.json: a bos_token given as an id or add_bos_token as a string is an error
// naming the file and the key, not silently ignored.
TEST(BadInput, TokenizerConfigTypes) {
  HYB_REQUIRE_SHARED(src, "data/models/stories260K/hf");
  auto dir = test::temp_dir("tokenizer_config_types");
  fs::copy(src / "tokenizer.json", dir / "tokenizer.json");
  const auto cfg = nlohmann::json::parse(read(src / "tokenizer_config.json"));
  auto with = [&](const char* key, const nlohmann::json& v) {
    auto j = cfg;
    j[key] = v;
    write(dir / "tokenizer_config.json", j.dump());
  };
  with("bos_token", 1);
  expect_error([&] { Tokenizer::load(dir); }, "tokenizer_config.json", "'bos_token' must be a token string");
  with("eos_token", nlohmann::json::array({"</s>"}));
  expect_error([&] { Tokenizer::load(dir); }, "tokenizer_config.json", "must be a token string");
  with("add_bos_token", "yes");
  expect_error([&] { Tokenizer::load(dir); }, "tokenizer_config.json", "'add_bos_token' must be true or false, got \"yes\"");
  with("bos_token", nullptr);  // null is allowed (Qwen2 writes it)
  EXPECT_NO_THROW(Tokenizer::load(dir));
}

TEST(BadInput, UnexpectedAndMissingTensor) {
  HYB_REQUIRE_SHARED(src, "data/fixtures/tiny-qwen2");
  auto copy = copy_tiny_qwen2(src, "extra_tensor");
  const fs::path& dir = copy.dir;  // (no structured bindings: lambdas below capture these)
  auto& ts = copy.tensors;
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
