// util/progress: what each mode writes. A terminal gets one line redrawn in place ("\r"), erased
// by clear() so that a result line can follow; a log (plain mode) gets nothing from a step
// shorter than plain_interval and a line every plain_interval from a longer one, then a last one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "util/progress.h"

namespace hyb {
namespace {

// Everything written to `f` so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  std::fseek(f, 0, SEEK_END);
  return s;
}

TEST(Progress, TerminalRedrawsInPlaceAndClearErases) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Progress bar("base", 4, "batches", Progress::Mode::kTerminal, f);
    bar.update(1, "scoring");
    const std::string first = contents(f);
    EXPECT_EQ(first.rfind("\rbase [", 0), 0u) << first;
    EXPECT_NE(first.find("1/4 25%"), std::string::npos) << first;
    EXPECT_NE(first.find("ETA"), std::string::npos) << first;
    EXPECT_NE(first.find("| scoring"), std::string::npos) << first;
    EXPECT_EQ(first.find('\n'), std::string::npos) << first;
    const size_t width = first.size() - 1;
    bar.clear();
    EXPECT_EQ(contents(f), first + "\r" + std::string(width, ' ') + "\r");
  }
  // Cleared and never updated again: the destructor adds nothing.
  const std::string after = contents(f);
  EXPECT_EQ(after.find('\n'), std::string::npos) << after;
  std::fclose(f);

  f = std::tmpfile();
  {
    Progress bar("ppl", 2, "seq", Progress::Mode::kTerminal, f);
    bar.update(1);
    bar.finish("done");
  }
  const std::string done = contents(f);
  EXPECT_NE(done.find("1/2 50%"), std::string::npos) << done;
  EXPECT_EQ(done.substr(done.size() - 7), "| done\n") << done;
  EXPECT_EQ(std::count(done.begin(), done.end(), '\n'), 1) << done;
  std::fclose(f);
}

TEST(Progress, PlainLinesOnlyForLongSteps) {
  std::FILE* f = std::tmpfile();
  {
    Progress bar("short", 10, "samples", Progress::Mode::kPlain, f);
    bar.plain_interval = 3600;
    for (int i = 1; i <= 10; ++i) bar.update(i);
    bar.finish("all done");
  }
  EXPECT_EQ(contents(f), "");  // shorter than plain_interval: no line at all
  std::fclose(f);

  f = std::tmpfile();
  {
    Progress bar("long", 3, "samples", Progress::Mode::kPlain, f);
    bar.plain_interval = 0;  // every update is due
    bar.update(1);
    bar.update(2);
    bar.clear();  // nothing to erase in a log
    bar.finish("all done");
  }
  const std::string log = contents(f);
  EXPECT_EQ(log.find('\r'), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 3) << log;
  EXPECT_EQ(log.rfind("long [", 0), 0u) << log;
  EXPECT_NE(log.find("all done\n"), std::string::npos) << log;
  std::fclose(f);
}

TEST(Progress, SilentWritesNothing) {
  std::FILE* f = std::tmpfile();
  {
    Progress bar("x", 2, "samples", Progress::Mode::kSilent, f);
    bar.update(1);
    bar.finish();
  }
  EXPECT_EQ(contents(f), "");
  std::fclose(f);
}

}  // namespace
}  // namespace hyb
