// `hybridize distill` and `hybridize perplexity --sweep` end to end through the built binary
// (found by tests/test_util.h): a short run's outputs feed the perplexity table.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../test_util.h"

namespace {

int sh(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CliDistill, DistillThenPerplexitySweep) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = hyb::test::temp_dir("cli_distill");
  const std::string exe = std::string("'") + bin + "' ";
  const std::string m = " --model '" + model.string() + "'", data = " --data '" + corpus.string() + "'";
  ASSERT_EQ(sh(exe + "distill" + m + data + " --mixer gdn --out '" + (dir / "d").string() +
               "' --tokens 1536 --seq-len 64 --batch-size 4 --eval-sequences 2 --no-progress >/dev/null 2>&1"),
            0);
  for (const char* f : {"linear.safetensors", "distill.json", "log.jsonl", "loss.svg", "checkpoint.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(dir / "d" / f)) << f;
  // A second run into the same directory without --resume is refused with a one-line error.
  EXPECT_EQ(sh(exe + "distill" + m + data + " --out '" + (dir / "d").string() + "' 2>'" + (dir / "err").string() + "'"), 1);

  ASSERT_EQ(sh(exe + "perplexity" + m + data + " --seq-len 64 --sequences 4 --linear '" +
               (dir / "d" / "linear.safetensors").string() + "' --layers 0,2 --sweep --out '" +
               (dir / "ppl.json").string() + "' >/dev/null"),
            0);
  auto j = nlohmann::json::parse(std::ifstream(dir / "ppl.json"));
  ASSERT_EQ(j["results"].size(), 4u);  // teacher, layer 0, layer 2, both
  EXPECT_EQ(j["results"][0]["name"], "teacher");
  EXPECT_EQ(j["results"][3]["replaced"], (std::vector<int64_t>{0, 2}));
  for (const auto& r : j["results"]) {
    EXPECT_GT(r["ppl"].get<double>(), 1.0);
    EXPECT_LT(r["ppl"].get<double>(), 512.0);  // better than uniform over the vocabulary
  }
}

}  // namespace
