// util/files: remove_tree removes a nested tree, does not follow symbolic links out of it, and
// accepts a path that does not exist. AppendFile's failed append is cut back (no torn line), and
// OutputLock refuses a second holder in the same process as in another.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include "../test_util.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace {

namespace fs = std::filesystem;

TEST(Files, RemoveTreeRemovesNestedDirectoriesButNotLinkTargets) {
  const fs::path root = test::temp_dir("files_remove_tree");
  const fs::path outside = test::temp_dir("files_remove_tree_outside");
  std::ofstream(outside / "kept.txt") << "kept";
  fs::create_directories(root / "a" / "b" / "c");
  std::ofstream(root / "a" / "b" / "c" / "deep.txt") << "x";
  std::ofstream(root / "top.txt") << "y";
  fs::create_directory_symlink(outside, root / "a" / "link");

  remove_tree(root);
  EXPECT_FALSE(fs::exists(root));
  EXPECT_TRUE(fs::exists(outside / "kept.txt"));  // the link went, not what it pointed to
  EXPECT_NO_THROW(remove_tree(root));             // gone already: nothing to do
  std::ofstream(root.string() + ".file") << "z";  // a plain file is removed too
  remove_tree(root.string() + ".file");
  EXPECT_FALSE(fs::exists(root.string() + ".file"));
  remove_tree(outside);
}

// A write that fails half-way (past a file size limit: the first bytes written, then EFBIG) is
// reported with errno's text and cut back, so the next append starts a line of its own: a journal
// after a full disk used to end in half a record, the next joined onto it.
TEST(Files, FailedAppendIsCutBackWhole) {
  const fs::path dir = test::temp_dir("files_append");
  AppendFile f;
  f.open(dir / "j.jsonl", /*truncate=*/true);
  f.append(std::string(59, 'a') + "\n");
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit small = old;
  small.rlim_cur = 100;
  auto* previous = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string err = test::error_of([&] { f.append(std::string(79, 'b') + "\n"); });
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, previous);
  EXPECT_EQ(err, (dir / "j.jsonl").string() + ": write failed: File too large");
  EXPECT_EQ(read_file(dir / "j.jsonl"), std::string(59, 'a') + "\n");
  f.append("c\n");
  EXPECT_EQ(read_file(dir / "j.jsonl"), std::string(59, 'a') + "\nc\n");
}

TEST(Files, OutputLockRefusesASecondHolderUntilReleased) {
  const fs::path dir = test::temp_dir("files_lock");
  OutputLock first = OutputLock::acquire("--out", dir / "out");
  EXPECT_TRUE(fs::exists(dir / ".out.lock"));
  // flock locks belong to the open file, so a second open in this process is refused as another process is.
  const std::string err = test::error_of([&] { OutputLock::acquire("--out", dir / "sub" / ".." / "out"); });
  EXPECT_EQ(err, "--out: '" + (dir / "sub" / ".." / "out").string() + "' is being written by another run (pid " +
                     std::to_string(::getpid()) + "): wait for it to end, or choose another directory");
  first.release();
  EXPECT_FALSE(fs::exists(dir / ".out.lock"));
  EXPECT_NO_THROW(OutputLock::acquire("--out", dir / "out"));
}

}  // namespace
}  // namespace hyb
