// The entry point: `hybridize --version` prints the version and exits 0.
#include <gtest/gtest.h>

#include <string>

#include "../test_util.h"
#include "util/version.h"

TEST(CliMain, Version) {
  HYB_REQUIRE_BINARY(bin);
  int rc = -1;
  const std::string out = hyb::test::run_command("'" + bin + "' --version 2>&1", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out.rfind(std::string("hybridize ") + hyb::kVersion + " (LibTorch ", 0), 0u) << out;
}

// A misspelt command or flag is named as such, with the closest known name: CLI11 alone answered
// "A subcommand is required" and "--model is required". A value that looks like a flag, after a
// value-taking option, is left alone (here: a prompt starting with "--").
TEST(CliMain, MisspeltNamesAreNamedWithTheClosest) {
  HYB_REQUIRE_BINARY(bin);
  int rc = -1;
  std::string out = hyb::test::run_command("'" + bin + "' distil 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "error: hybridize: unknown command 'distil' (did you mean 'distill'?)\n");
  out = hyb::test::run_command("'" + bin + "' distill --mdoel x 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "error: distill: unknown flag --mdoel (did you mean --model?)\n");
  out = hyb::test::run_command("'" + bin + "' eval --task piqa --limt=3 2>&1", rc);
  EXPECT_EQ(out, "error: eval: unknown flag --limt (did you mean --limit?)\n");
  out = hyb::test::run_command("'" + bin + "' eval --frobnicate 2>&1", rc);
  EXPECT_EQ(out, "error: eval: unknown flag --frobnicate\n");
  out = hyb::test::run_command("'" + bin + "' generate --model /nonexistent --prompt --verbose 2>&1", rc);
  EXPECT_EQ(out.find("unknown flag"), std::string::npos) << out;
  out = hyb::test::run_command("'" + bin + "' distill --help 2>&1", rc);
  EXPECT_EQ(rc, 0) << out;
}
