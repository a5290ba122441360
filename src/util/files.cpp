#include "util/files.h"

#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

// Absolute, with "." / ".." and symbolic links resolved as far as the path exists, no trailing "/".
fs::path normalized(const fs::path& p) {
  std::error_code ec;
  fs::path n = fs::weakly_canonical(fs::absolute(p), ec);
  if (ec) n = fs::absolute(p).lexically_normal();
  if (n.filename().empty() && n.has_parent_path() && n != n.root_path()) n = n.parent_path();
  return n;
}

// True when `dir` is `p` or one of its ancestors.
bool contains(const fs::path& dir, const fs::path& p) {
  const fs::path rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
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
  const fs::path o = normalized(out);
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    const fs::path i = normalized(in);
    if (o == i) fail(flag, "'{}' is an input of this command ({}): choose a new directory", out.string(), in.string());
    if (contains(o, i))
      fail(flag, "'{}' contains an input of this command ({}): choose a new directory", out.string(), in.string());
  }
}

void require_new_output_dir(const std::string& flag, const fs::path& out, const std::vector<fs::path>& inputs,
                            const std::string& resume_hint) {
  if (out.empty()) fail(flag, "empty path");
  require_outside_inputs(flag, out, inputs);
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(out, ec);
  if (!fs::exists(st)) return;
  if (fs::is_symlink(st)) fail(flag, "'{}' is a symbolic link: choose a new directory", out.string());
  if (!fs::is_directory(st)) fail(flag, "'{}' exists and is not a directory: choose a new directory", out.string());
  if (!fs::is_empty(out, ec) || ec)
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
  std::error_code ec;
  if (replace && fs::is_directory(fs::symlink_status(target_, ec)) && !fs::is_empty(target_, ec)) {
    old = make_sibling_dir(target_, "old");
    fs::rename(target_, old / "previous", ec);
    if (ec) fail(flag, "cannot move '{}' aside: {}", target_.string(), ec.message());
  }
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    if (!old.empty()) fs::rename(old / "previous", target_, ec);  // put the old result back
    fail(flag, "cannot create '{}': {}", target_.string(),
         err == ENOTEMPTY || err == EEXIST ? "it appeared meanwhile and is not empty" : std::strerror(err));
  }
  published_ = true;
  if (!old.empty()) remove_tree(old);
}

}  // namespace hyb
