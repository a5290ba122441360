// util/files: remove_tree removes a nested tree, does not follow symbolic links out of it, and
// accepts a path that does not exist.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hyb
