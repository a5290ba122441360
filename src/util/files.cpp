#include "util/files.h"

#include <ftw.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "util/error.h"

namespace hyb {

namespace {
std::string g_failed;  // the entry nftw could not remove (nftw's callback takes no user data)
int g_errno = 0;

int remove_entry(const char* entry, const struct stat*, int, struct FTW*) {
  if (::remove(entry) == 0) return 0;
  g_failed = entry, g_errno = errno;
  return 1;  // stop the walk
}
}  // namespace

void remove_tree(const std::filesystem::path& path) {
  g_failed.clear();
  // Depth first (children before their directory), not following symbolic links.
  const int rc = ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc == 0 || (rc == -1 && errno == ENOENT)) return;
  if (!g_failed.empty()) fail(g_failed, "cannot remove: {}", std::strerror(g_errno));
  fail(path.string(), "cannot remove: {}", std::strerror(errno));
}

}  // namespace hyb
