#include "util/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
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

namespace {
namespace fs = std::filesystem;

// POSIX calls below, not std::filesystem's weakly_canonical / lexically_relative / is_empty: like
// remove_all (see remove_tree), LibTorch's exported copies can be bound in their place, and with
// them a distill run crashed later in an unrelated std::filesystem::path.

// Absolute and with symbolic links, "." and ".." resolved as far as the path exists (realpath of
// the longest existing prefix, the rest appended), no trailing "/".
std::string normalized(const fs::path& p) {
  std::string s = p.string();
  if (s.empty() || s[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) s = std::string(cwd) + "/" + s;
  }
  std::string tail;  // components that do not exist yet
  for (;;) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    char buf[PATH_MAX];
    if (::realpath(s.c_str(), buf)) {
      std::string r = buf;
      if (!tail.empty()) r += (r == "/" ? "" : "/") + tail;
      return r;
    }
    const size_t slash = s.rfind('/');
    if (slash == std::string::npos || s == "/") return s + (tail.empty() ? "" : "/" + tail);
    const std::string last = s.substr(slash + 1);
    tail = tail.empty() ? last : last + "/" + tail;
    s = slash == 0 ? "/" : s.substr(0, slash);
  }
}

// True when `dir` is `p` or one of its ancestors (both normalized).
bool contains(const std::string& dir, const std::string& p) {
  if (dir == "/") return true;
  return p == dir || (p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 && p[dir.size()] == '/');
}

bool is_empty_dir(const fs::path& p) {
  DIR* d = ::opendir(p.c_str());
  if (!d) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  ::closedir(d);
  return empty;
}

// mkdtemp on "<parent>/.<name>.<what>-XXXXXX".
fs::path make_sibling_dir(const fs::path& target, const char* what) {
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string tmpl = (parent / ("." + target.filename().string() + "." + what + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) fail(parent.string(), "cannot create a directory here: {}", std::strerror(errno));
  return tmpl;
}
}  // namespace

void require_outside_inputs(const std::string& flag, const fs::path& out, const std::vector<fs::path>& inputs) {
  const std::string o = normalized(out);
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    const std::string i = normalized(in);
    if (o == i) fail(flag, "'{}' is an input of this command ({}): choose a new directory", out.string(), in.string());
    if (contains(o, i))
      fail(flag, "'{}' contains an input of this command ({}): choose a new directory", out.string(), in.string());
  }
}

void require_new_output_dir(const std::string& flag, const fs::path& out, const std::vector<fs::path>& inputs,
                            const std::string& resume_hint) {
  if (out.empty()) fail(flag, "empty path");
  require_outside_inputs(flag, out, inputs);
  struct stat st {};
  if (::lstat(out.c_str(), &st) != 0) return;  // does not exist yet
  if (S_ISLNK(st.st_mode)) fail(flag, "'{}' is a symbolic link: choose a new directory", out.string());
  if (!S_ISDIR(st.st_mode)) fail(flag, "'{}' exists and is not a directory: choose a new directory", out.string());
  if (!is_empty_dir(out))
    fail(flag, "'{}' is not empty: {}", out.string(),
         resume_hint.empty() ? "choose a new directory (nothing is overwritten)" : resume_hint);
}

StagedDir::StagedDir(fs::path target) : target_(std::move(target)), tmp_(make_sibling_dir(target_, "tmp")) {}

StagedDir::~StagedDir() {
  if (published_) return;
  try {
    remove_tree(tmp_);
  } catch (...) {  // a leftover .tmp directory is all that remains; nothing else is touched
  }
}

void StagedDir::publish(const std::string& flag, bool replace) {
  fs::path old;
  struct stat st {};
  if (replace && ::lstat(target_.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !is_empty_dir(target_)) {
    old = make_sibling_dir(target_, "old");
    if (::rename(target_.c_str(), (old / "previous").c_str()) != 0)
      fail(flag, "cannot move '{}' aside: {}", target_.string(), std::strerror(errno));
  }
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    if (!old.empty()) ::rename((old / "previous").c_str(), target_.c_str());  // put the old result back
    fail(flag, "cannot create '{}': {}", target_.string(),
         err == ENOTEMPTY || err == EEXIST ? "it appeared meanwhile and is not empty" : std::strerror(err));
  }
  published_ = true;
  if (!old.empty()) remove_tree(old);
}

void require_regular_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) fail(path.string(), "file not found");
    fail(path.string(), "cannot read: {}", std::strerror(errno));
  }
  if (S_ISREG(st.st_mode)) return;
  fail(path.string(), "not a regular file ({})",
       S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
}

std::string read_file(const std::filesystem::path& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hyb
