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
