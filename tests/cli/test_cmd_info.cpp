// `hybridize info` end to end: the cache line splits what grows with the context (attention K/V)
// from what does not (linear state), with sizes computed here from the shapes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../test_util.h"

using hyb::test::run_command;

namespace {

// The line of `text` that starts with `head` ("" if none).
std::string line_starting(const std::string& text, const std::string& head) {
  const size_t at = text.find("\n" + head);
  if (at == std::string::npos) return "";
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST(CliInfo, CacheLineSeparatesKvFromLinearState) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  int rc = -1;
  // stories260K: 5 layers, 4 kv heads of 8, fp32, context 512. K and V: 2 * 4 * 8 * 4 B = 256 B per
  // token and layer, 1,280 B per token = 1.25 KiB; 640 KiB at 512 tokens.
  const std::string full =
      run_command(std::string("'") + bin + "' info --model '" + model.string() + "'", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(line_starting(full, "cache"),
            "cache        1.2 KiB per token per sequence (K/V) + 0.0 KiB of linear state per sequence "
            "(640.0 KiB at the full context of 512)");

  // The same shapes with every layer a Gated DeltaNet (random-model, fp32): per layer the state
  // H * d * d * 4 B = 8 * 8 * 8 * 4 = 2,048 B and three convolution caches of (4 - 1) rows of H * d
  // = 3 * 3 * 64 * 4 = 2,304 B; 5 layers: 21,760 B = 21.25 KiB, whatever the context.
  nlohmann::json cfg;
  std::ifstream(model / "config.json") >> cfg;
  cfg["layer_types"] = std::vector<std::string>(5, "linear_attention");
  cfg["linear_attention"] = {{"kind", "gdn"},         {"hidden_size", 64},   {"num_heads", 8},
                             {"num_kv_heads", 4},     {"head_dim", 8},       {"chunk_size", 64},
                             {"conv_size", 4},        {"gate_low_rank", 16}, {"gate_logit_normalizer", 16.0},
                             {"norm_eps", 1e-6},      {"qkv_bias", false}};
  const auto dir = hyb::test::temp_dir("cli_info_gdn");
  std::ofstream(dir / "config.json") << cfg.dump();
  const std::string exe = std::string("'") + bin + "' ";
  const std::string made = run_command(exe + "random-model --config '" + (dir / "config.json").string() +
                                           "' --dtype float32 --out '" + (dir / "m").string() + "' 2>&1",
                                       rc);
  ASSERT_EQ(rc, 0) << made;
  const std::string hybrid = run_command(exe + "info --model '" + (dir / "m").string() + "'", rc);
  EXPECT_EQ(rc, 0) << hybrid;
  EXPECT_EQ(line_starting(hybrid, "cache"),
            "cache        0.0 KiB per token per sequence (K/V) + 21.2 KiB of linear state per sequence "
            "(21.2 KiB at the full context of 512)")
      << hybrid;
}
