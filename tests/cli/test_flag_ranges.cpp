// Flags out of range (NaN included) are refused by the parser with a message naming the flag, before
// any model is loaded (issue 16: --top-p nan, --clip -1, --threads -1, bench --batch-size 0 and others
// were accepted; --prompt-ids '1 2' became [1] and '1x,2' became [1,2]).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../test_util.h"

using hyb::test::run_command;

namespace {

struct Case {
  std::string args, flag;
};

TEST(CliFlags, OutOfRangeValuesAreRefused) {
  HYB_REQUIRE_BINARY(bin);
  const std::string exe = "'" + bin + "' ";
  const std::string distill = "distill --model /nonexistent --data x.txt --out /nonexistent/d ";
  const std::string search = "search --model /nonexistent --linear x --task t --out /nonexistent/s ";
  const std::string generate = "generate --model /nonexistent --prompt hi ";
  const std::vector<Case> cases = {
      {generate + "--top-p nan", "--top-p"},
      {generate + "--top-p 1.5", "--top-p"},
      {generate + "--temperature nan", "--temperature"},
      {generate + "--threads -1", "--threads"},
      {generate + "--threads 100000", "--threads"},
      {distill + "--clip -1", "--clip"},
      {distill + "--clip nan", "--clip"},
      {distill + "--weight-decay -5", "--weight-decay"},
      {distill + "--eval-every -1", "--eval-every"},
      {distill + "--checkpoint-every -1", "--checkpoint-every"},
      {search + "--max-drop -1", "--max-drop"},
      {search + "--max-drop 2", "--max-drop"},
      {search + "--max-drop nan", "--max-drop"},
      {search + "--max-tokens -1", "--max-tokens"},
      {search + "--limit -1", "--limit"},
      {"eval --model /nonexistent --task t --max-tokens -1", "--max-tokens"},
      {"bench --model /nonexistent --batch-size 0", "--batch-size"},
      {"bench --model /nonexistent --bandwidth -1", "--bandwidth"},
      {"bench --model /nonexistent --threads -1", "--threads"},
      // CLI11's PositiveNumber, NonNegativeNumber and Range printed their bounds as "0.000000 to" and a
      // 309-digit number: every numeric flag now says its range in words.
      {distill + "--lr 0", "--lr"},
      {distill + "--tokens 0", "--tokens"},
      {distill + "--min-lr-ratio 2", "--min-lr-ratio"},
      {generate + "--max-new-tokens 0", "--max-new-tokens"},
      {"perplexity --model /nonexistent --data x --seq-len 1", "--seq-len"},
      {"perplexity --model /nonexistent --data x --batch-size 0", "--batch-size"},
      {"eval --model /nonexistent --task t --num-fewshot -1", "--num-fewshot"},
      {"bench --model /nonexistent --max-new-tokens 0", "--max-new-tokens"},
  };
  for (const auto& c : cases) {
    int rc = 0;
    const std::string out = run_command(exe + c.args + " 2>&1", rc);
    EXPECT_NE(rc, 0) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.flag), std::string::npos) << c.args << "\n" << out;
    EXPECT_NE(out.find("must be"), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(out.find("/nonexistent"), std::string::npos) << "refused after parsing: " << c.args << "\n" << out;
    EXPECT_EQ(out.find("e+308"), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(out.find("0.000000"), std::string::npos) << c.args << "\n" << out;
  }
}

TEST(CliFlags, PromptIdsAreWholeIntegers) {
  HYB_REQUIRE_BINARY(bin);
  for (const std::string ids : {"1 2", "1x,2", "1,,2", "3,-1", "9999999999999999999999"}) {
    int rc = 0;
    const std::string out =
        run_command("'" + bin + "' generate --model /nonexistent --prompt-ids '" + ids + "' 2>&1", rc);
    EXPECT_EQ(rc, 1) << ids << "\n" << out;
    EXPECT_EQ(out.rfind("error: --prompt-ids: '", 0), 0u) << ids << "\n" << out;
    EXPECT_NE(out.find("is not a token id"), std::string::npos) << ids << "\n" << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

}  // namespace
