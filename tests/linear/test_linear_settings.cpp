// linear settings: derived from the parent model, JSON round trip, and clear errors for configs
// that do not fit.
#include <gtest/gtest.h>

#include "io/config.h"
#include "linear_test_util.h"
#include "util/error.h"

namespace hyb::test {
namespace {

ModelConfig qwen_like() {
  ModelConfig c;
  c.model_type = "qwen2";
  c.hidden_size = 1536, c.num_heads = 12, c.num_kv_heads = 2, c.head_dim = 128;
  c.attention_bias = true;
  return c;
}

TEST(LinearSettings, ForModelDerivesTheParentShape) {
  auto s = LinearSettings::for_model("gdn", qwen_like());
  EXPECT_EQ(s.kind, "gdn");
  EXPECT_EQ(s.hidden_size, 1536);
  EXPECT_EQ(s.num_heads, 12);
  EXPECT_EQ(s.num_kv_heads, 2);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_TRUE(s.qkv_bias);
  EXPECT_EQ(s.num_groups(), 6);

  ModelConfig llama;  // stories260K: no head_dim in the file, no biases
  llama.model_type = "llama";
  llama.hidden_size = 64, llama.num_heads = 8, llama.num_kv_heads = 4;
  auto g = LinearSettings::for_model("gla", llama);
  EXPECT_EQ(g.head_dim, 8);
  EXPECT_FALSE(g.qkv_bias);
  llama.num_kv_heads = 0;  // absent: as many kv heads as heads
  EXPECT_EQ(LinearSettings::for_model("jet", llama).num_kv_heads, 8);
}

TEST(LinearSettings, JsonRoundTrip) {
  auto s = LinearSettings::for_model("jet", qwen_like());
  s.chunk_size = 32, s.norm_eps = 1e-5, s.conv_size = 3;
  auto back = LinearSettings::from_json(s.to_json(), "config.json");
  EXPECT_EQ(back.to_json(), s.to_json());
  // Only the sizes are required; the rest take their defaults.
  auto minimal = LinearSettings::from_json(
      {{"kind", "gla"}, {"hidden_size", 64}, {"num_heads", 8}, {"head_dim", 8}}, "x");
  EXPECT_EQ(minimal.num_kv_heads, 8);
  EXPECT_EQ(minimal.chunk_size, 64);
  EXPECT_EQ(minimal.conv_size, 4);
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no hyb::Error (expected one mentioning '" << fragment << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(LinearSettings, BadConfigsThrow) {
  auto c = qwen_like();
  expect_error([&] { LinearSettings::for_model("mamba", c); }, "unknown linear-attention kind");
  c.num_kv_heads = 5;
  expect_error([&] { LinearSettings::for_model("gla", c); }, "not a multiple of num_kv_heads");
  c = qwen_like();
  c.head_dim = 0, c.hidden_size = 1000, c.num_heads = 12;
  expect_error([&] { LinearSettings::for_model("gdn", c); }, "not divisible by num_heads");
  c = qwen_like();
  c.num_heads = 3, c.num_kv_heads = 1, c.head_dim = 3;  // value dim 9: no generator width
  expect_error([&] { LinearSettings::for_model("jet", c); }, "divisible by 8");
  EXPECT_NO_THROW(LinearSettings::for_model("gdn", c));

  auto j = LinearSettings::for_model("gla", qwen_like()).to_json();
  auto with = [&](const std::string& k, nlohmann::json v) { auto t = j; t[k] = v; return t; };
  expect_error([&] { LinearSettings::from_json(with("heads", 3), "cfg.json"); },
               "cfg.json: unknown");
  expect_error([&] { LinearSettings::from_json(with("num_heads", "12"), "x"); }, "integer");
  expect_error([&] { LinearSettings::from_json(with("kind", "rwkv"), "x"); }, "unknown linear");
  expect_error([&] { LinearSettings::from_json(with("chunk_size", 0), "x"); }, "chunk_size");
  auto missing = j;
  missing.erase("head_dim");
  expect_error([&] { LinearSettings::from_json(missing, "x"); }, "lack 'head_dim'");
  expect_error([&] { LinearSettings::from_json(nlohmann::json::array(), "x"); }, "JSON object");

  auto s = small_settings("gdn");
  s.kind = "retnet";
  expect_error([&] { make_linear_mixer(s, 1); }, "unknown linear-attention kind");
  s = small_settings("gla");
  AttentionWeights p;
  p.hidden_size = 32, p.num_heads = 4, p.num_kv_heads = 2, p.head_dim = 8;
  p.wq = at::zeros({32, 32}), p.wk = at::zeros({16, 32}), p.wv = at::zeros({16, 32});
  p.wo = at::zeros({32, 32});
  expect_error([&] { make_linear_mixer_from_attention(s, p, 1); }, "b_q is missing");
  s.qkv_bias = false;
  EXPECT_NO_THROW(make_linear_mixer_from_attention(s, p, 1));
  p.wk = at::zeros({32, 32});
  expect_error([&] { make_linear_mixer_from_attention(s, p, 1); }, "W_k has shape 32x32");
  p.num_kv_heads = 4;
  expect_error([&] { make_linear_mixer_from_attention(s, p, 1); }, "differ from the linear");
}

}  // namespace
}  // namespace hyb::test
