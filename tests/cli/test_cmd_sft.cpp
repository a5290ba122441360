// `hybridize sft` end to end through the built binary: a prompt/completion file fine-tunes
// stories260K into a model directory that `info` and `eval` load; --stop-after-steps exits 130 and
// --resume finishes the run; an existing --out is refused without --resume.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "../test_util.h"

namespace {

TEST(CliSft, FineTunesIntoAModelDirectoryThatLoads) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = hyb::test::temp_dir("cli_sft");
  {
    std::ofstream f(dir / "data.jsonl");
    for (int i = 0; i < 24; ++i)
      f << nlohmann::json{{"prompt", "Tom had " + std::to_string(i) + " apples. Tom had"}, {"completion", " " + std::to_string(i) + " apples."}}.dump() << "\n";
  }
  const std::string sft = "'" + bin + "' sft --model '" + model.string() + "' --data '" + (dir / "data.jsonl").string() +
                          "' --seq-len 64 --batch-size 4 --epochs 2 --lr 1e-3 --device cpu --no-progress --checkpoint-every 2 --out '" +
                          (dir / "out").string() + "'";
  int rc = 0;
  const std::string stopped = hyb::test::run_command(sft + " --stop-after-steps 1 2>&1", rc);
  EXPECT_EQ(rc, 130) << stopped;
  const std::string refused = hyb::test::run_command(sft + " 2>&1", rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(refused.find("--resume"), std::string::npos) << refused;
  const std::string done = hyb::test::run_command(sft + " --resume 2>&1", rc);
  ASSERT_EQ(rc, 0) << done;
  const std::string info = hyb::test::run_command("'" + bin + "' info --model '" + (dir / "out").string() + "' 2>&1", rc);
  EXPECT_EQ(rc, 0) << info;
  const auto report = nlohmann::json::parse(std::ifstream(dir / "out" / "sft.json"));
  EXPECT_EQ(report["documents"]["trained"].get<int64_t>(), 24);
  const int64_t rows = report["rows"]["count"].get<int64_t>(), steps = report["optimizer"]["steps"].get<int64_t>();
  EXPECT_EQ(steps, (2 * rows + 3) / 4);  // two epochs of the packed rows, 4 a step
  EXPECT_NE(done.find("for " + std::to_string(steps) + " steps"), std::string::npos) << done;
}

}  // namespace
