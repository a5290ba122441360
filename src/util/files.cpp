#include "util/files.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

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

void write_stream_atomic(const std::filesystem::path& path, const std::function<void(std::ofstream&)>& body) {
  namespace fs = std::filesystem;
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(tmp.string(), "cannot open for writing");
    body(out);
    out.flush();
    if (!out) fail(tmp.string(), "write failed (disk full?)");
  }
  int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd >= 0) {
    fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, path);
}

void write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
  write_stream_atomic(path, [&](std::ofstream& out) { out.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

}  // namespace hyb
