// `hybridize generate` through a pipe: the text ends its line before the speed line (stderr) comes,
// so `2>&1 | less` shows them on two lines (the text's last newline sat unflushed in stdout's
// buffer and the speed line came first, glued to the text); --tokenizer names another tokenizer.
#include <gtest/gtest.h>

#include <string>

#include "../test_util.h"

TEST(CliGenerate, SpeedLineIsNotGluedToTheTextInAPipe) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const std::string cmd = "'" + bin + "' generate --model '" + model.string() +
                          "' --prompt 'Once upon a time' --max-new-tokens 12 --no-stop --device cpu";
  int rc = -1;
  const std::string out = hyb::test::run_command(cmd + " 2>&1 | cat", rc);
  ASSERT_EQ(rc, 0) << out;
  const size_t speed = out.find("[prefill ");
  ASSERT_NE(speed, std::string::npos) << out;
  ASSERT_GT(speed, 0u) << out;
  EXPECT_EQ(out[speed - 1], '\n') << "the speed line is glued to the text:\n" << out;
  EXPECT_EQ(out.rfind("Once upon a time", 0), 0u) << out;
  EXPECT_EQ(out.back(), '\n') << out;
  EXPECT_EQ(out.find('\n', speed), out.size() - 1) << "the speed line is the last line:\n" << out;

  // --tokenizer: the model's own file gives the same text; a missing one is named.
  const std::string text = hyb::test::run_command(cmd + " 2>/dev/null", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(hyb::test::run_command(cmd + " --tokenizer '" + (model / "tokenizer.json").string() + "' 2>/dev/null", rc),
            text);
  EXPECT_EQ(rc, 0);
  const std::string missing = hyb::test::run_command(cmd + " --tokenizer /nonexistent/tok 2>&1", rc);
  EXPECT_EQ(rc, 1) << missing;
  EXPECT_NE(missing.find("/nonexistent/tok"), std::string::npos) << missing;
}
