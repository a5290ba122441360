// Progress with ETA on the long steps (issue 17): search (scoring the base, each round's
// candidates), perplexity (each row) and bench (its rows) draw a bar on a terminal's stderr and
// erase it before their result line; --no-progress, or stderr into a pipe on a short run, prints
// none. The terminal is a real pseudo-terminal (util-linux `script`).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "../test_util.h"
#include "linear_fixture.h"

namespace {
namespace fs = std::filesystem;
using hyb::test::run_command;

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// `cmd` with stdout and stderr on a pseudo-terminal; what the terminal received.
std::string run_in_terminal(const std::string& cmd, int& rc) {
  return run_command("script -qec " + quoted(cmd) + " /dev/null < /dev/null 2>&1", rc);
}

bool has_terminal() {
  int rc = -1;
  run_command("script -qec true /dev/null < /dev/null > /dev/null 2>&1", rc);
  return rc == 0;
}

TEST(CliProgress, LongStepsShowABarWithEtaOnATerminal) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(text, "data/corpora/tinystories/tinystories_val.txt");
  if (!has_terminal()) GTEST_SKIP() << "no pseudo-terminal here (util-linux script failed)";
  const auto dir = hyb::test::temp_dir("cli_progress");
  hyb::test::write_modules_from_attention(model, dir / "linear.safetensors");
  {
    std::ofstream task(dir / "task.jsonl");
    for (int i = 0; i < 24; ++i)
      task << "{\"context\": \"Once upon a time there was a little " << (i % 2 ? "cat" : "dog")
           << "\", \"choices\": [\"who liked to play.\", \"and the sky.\", \"big red ball.\"], \"gold\": " << i % 3 << "}\n";
  }
  const std::string exe = "'" + bin + "' ";
  const std::string m = " --model '" + model.string() + "' --device cpu";
  auto search = [&](const std::string& out) {
    return exe + "search" + m + " --linear '" + (dir / "linear.safetensors").string() + "' --task mine --data '" +
           (dir / "task.jsonl").string() + "' --replace 1 --out '" + (dir / out).string() + "'";
  };
  int rc = -1;
  std::string out = run_in_terminal(search("s1"), rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\rbase ["), std::string::npos) << out;
  EXPECT_NE(out.find("\rround 1 ["), std::string::npos) << out;
  EXPECT_NE(out.find("batches/s | ETA"), std::string::npos) << out;
  // The bar is erased before the round's lines: each starts a line of its own.
  const size_t line = out.find("round   1: best");
  ASSERT_NE(line, std::string::npos) << out;
  EXPECT_TRUE(out[line - 1] == '\n' || out[line - 1] == '\r') << out;
  const size_t base = out.find("base 0.");
  ASSERT_NE(base, std::string::npos) << out;
  EXPECT_TRUE(out[base - 1] == '\n' || out[base - 1] == '\r') << out;

  out = run_in_terminal(search("s2") + " --no-progress", rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("round   1: best"), std::string::npos) << out;
  EXPECT_EQ(out.find("batches/s"), std::string::npos) << out;
  out = run_command(search("s3") + " 2>&1", rc);  // a pipe: a short run leaves no bar line
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out.find("batches/s"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;

  const std::string ppl = exe + "perplexity" + m + " --data '" + text.string() + "' --seq-len 32 --sequences 6 --batch-size 2";
  out = run_in_terminal(ppl, rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\rteacher ["), std::string::npos) << out;
  EXPECT_NE(out.find("seq/s"), std::string::npos) << out;
  EXPECT_NE(out.find("\rteacher" + std::string(17, ' ')), std::string::npos) << "the row replaces the bar:\n" << out;
  out = run_in_terminal(ppl + " --no-progress", rc);
  EXPECT_EQ(out.find("seq/s"), std::string::npos) << out;

  const std::string bench = exe + "bench" + m + " --context 16,32 --batch-size 1 --max-new-tokens 2 --threads 1";
  out = run_in_terminal(bench, rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\rbench ["), std::string::npos) << out;
  EXPECT_NE(out.find("rows/s"), std::string::npos) << out;
  EXPECT_NE(out.find("| full, context 32"), std::string::npos) << out;
  EXPECT_NE(out.find("\rfull "), std::string::npos) << "the row replaces the bar:\n" << out;
  out = run_in_terminal(bench + " --no-progress", rc);
  EXPECT_EQ(out.find("rows/s"), std::string::npos) << out;
}

}  // namespace
