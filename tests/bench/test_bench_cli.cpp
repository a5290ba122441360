// `hybridize bench` end to end on a tiny random config (CPU): the JSON rows, the Fig. 2 plot beside
// them, and `--from` re-reading them; a file that is not bench output is refused naming it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "../test_util.h"
#include "bench/throughput.h"

namespace hyb {
namespace {

// The command's stdout and stderr together.
std::string run(const std::string& cmd, int& rc) { return test::run_command(cmd + " 2>&1", rc); }

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(BenchCli, RowsPlotAndFrom) {
  HYB_REQUIRE_BINARY(bin);
  const auto dir = test::temp_dir("bench_cli");
  std::ofstream(dir / "config.json") << nlohmann::json{
      {"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 4},
      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 97},
      {"max_position_embeddings", 256}, {"rope_theta", 10000.0}};
  int rc = -1;
  const std::string out = run("'" + bin + "' bench --config '" + (dir / "config.json").string() +
                                  "' --mixer gdn --replace-counts 0,2 --context 16,32 --batch-size 2 --max-new-tokens 3"
                                  " --prefill-chunk 16 --out '" + (dir / "b.json").string() + "'",
                              rc);
  ASSERT_EQ(rc, 0) << out;

  std::ifstream in(dir / "b.json");
  const auto rows = nlohmann::json::parse(in);
  ASSERT_EQ(rows.size(), 4u);  // {full, gdnx2} x {16, 32}
  for (const auto& j : rows) {
    const ThroughputRow r = ThroughputRow::from_json(j);
    EXPECT_EQ(r.to_json(), j);  // the JSON round-trips
    EXPECT_EQ(r.batch, 2);
    EXPECT_GT(r.decode_tok_s, 0);
    EXPECT_GT(r.kv_bytes, 0);  // 2 of 4 layers stay attention in the hybrid
    EXPECT_EQ(r.state_bytes > 0, r.num_linear == 2);
    EXPECT_FALSE(j.at("decode_cuda_graph").get<bool>());  // CPU: no graph, and the row says so
  }
  // The KV cache grows with the context, the linear state does not.
  EXPECT_GT(rows[1]["kv_cache_bytes"].get<int64_t>(), rows[0]["kv_cache_bytes"].get<int64_t>());
  EXPECT_EQ(rows[3]["state_bytes"].get<int64_t>(), rows[2]["state_bytes"].get<int64_t>());

  // The plot beside the JSON: one line per context.
  std::ifstream svg_in(dir / "b.svg");
  ASSERT_TRUE(svg_in.good());
  std::stringstream svg;
  svg << svg_in.rdbuf();
  EXPECT_EQ(count(svg.str(), "<polyline"), 2u);
  EXPECT_NE(svg.str().find("context 32"), std::string::npos);

  // --from measures nothing and prints the same rows.
  const std::string again = run("'" + bin + "' bench --from '" + (dir / "b.json").string() + "' --plot '" +
                                    (dir / "again.svg").string() + "'",
                                rc);
  ASSERT_EQ(rc, 0) << again;
  EXPECT_EQ(count(again, "gdnx2"), 2u) << again;
  EXPECT_TRUE(std::filesystem::exists(dir / "again.svg"));

  std::ofstream(dir / "bad.json") << "[{\"config\": \"full\"}]";
  const std::string err = run("'" + bin + "' bench --from '" + (dir / "bad.json").string() + "'", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("bad.json"), std::string::npos) << err;
  EXPECT_EQ(count(err, "\n"), 1u) << err;  // one line
}

// "peak GiB" is each row's own (it was the process's peak so far on the CPU, so a small context
// measured after a large one showed the large one's peak): a context of 16 after one of 1536
// peaks well below the large row (measured: 0.38 GiB large, 0.24 after it, 0.17 alone; what
// stays above "alone" is freed memory malloc keeps). The rows and the table say what it is.
TEST(BenchCli, PeakMemoryIsEachRowsOwn) {
  HYB_REQUIRE_BINARY(bin);
  const auto dir = test::temp_dir("bench_peak");
  // Attention scores of the large row ([2, 4, 1536, 1538] fp32, 76 MB) are above malloc's mmap
  // threshold (main.cpp: 32 MiB), so their pages go back to the system when freed.
  std::ofstream(dir / "config.json") << nlohmann::json{
      {"model_type", "llama"}, {"hidden_size", 256}, {"intermediate_size", 512}, {"num_hidden_layers", 2},
      {"num_attention_heads", 4}, {"num_key_value_heads", 4}, {"vocab_size", 128},
      {"max_position_embeddings", 2048}, {"rope_theta", 10000.0}};
  auto bench = [&](const std::string& contexts, const std::string& name, int& rc) {
    const std::string out = run("'" + bin + "' bench --config '" + (dir / "config.json").string() + "' --context " +
                                    contexts + " --batch-size 2 --max-new-tokens 2 --prefill-chunk 1536 --device cpu"
                                    " --dtype float32 --threads 2 --no-progress --out '" + (dir / name).string() + "'",
                                rc);
    return out;
  };
  int rc = -1;
  const std::string both = bench("1536,16", "both.json", rc);
  ASSERT_EQ(rc, 0) << both;
  const std::string alone = bench("16", "alone.json", rc);
  ASSERT_EQ(rc, 0) << alone;
  const auto rows = nlohmann::json::parse(std::ifstream(dir / "both.json"));
  const auto small = nlohmann::json::parse(std::ifstream(dir / "alone.json"));
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(small.size(), 1u);
  if (rows[0]["peak_memory_scope"] == "resident_so_far")
    GTEST_SKIP() << "this system cannot reset the process's peak resident memory (/proc/self/clear_refs)";
  EXPECT_EQ(rows[0]["peak_memory_scope"], "resident");
  const double large = rows[0]["peak_memory_bytes"].get<double>(), after = rows[1]["peak_memory_bytes"].get<double>(),
               own = small[0]["peak_memory_bytes"].get<double>();
  EXPECT_GT(large - own, 100e6) << "the large row should need over 100 MB more than the small one";
  EXPECT_LT(after, large - (large - own) / 4) << "large " << large << ", small after it " << after << ", small alone " << own;
  EXPECT_NE(both.find("peak GiB: the process's peak resident memory during each row's timed run"), std::string::npos)
      << both;
}

}  // namespace
}  // namespace hyb
