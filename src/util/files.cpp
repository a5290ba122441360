#include "util/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <sys/file.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <random>
#include <thread>
#include <streambuf>
#include <ostream>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <cstring>
#include <string>
#include <utility>

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

namespace {

// "<path>.tmp.<pid>.<random>": unique to this process and this call (one generator per thread:
// threads writing at once must not share one unsynchronised state).
std::string temporary_name(const std::filesystem::path& path) {
  thread_local std::mt19937_64 rng(
      (uint64_t(std::random_device{}()) << 32) ^ std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
      uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("{}.tmp.{}.{:016x}", path.string(), ::getpid(), rng());
}

[[noreturn]] void write_failed(const std::filesystem::path& path, int err) {
  fail(path.string(), "write failed: {}", std::strerror(err));
}

// Writes all of [p, p + n) to `fd` (retrying short writes and EINTR); false with errno set on failure.
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w, n -= static_cast<size_t>(w);
  }
  return true;
}

// An std::ostream's buffer over a file descriptor that keeps the first write error (errno), which
// std::ofstream does not report.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return err_; }
  bool flush_buffer() {
    const bool ok = put(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(buf_, buf_ + sizeof buf_);
    return ok;
  }

 protected:
  int_type overflow(int_type c) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n < static_cast<std::streamsize>(sizeof buf_) / 2) return std::streambuf::xsputn(s, n);
    if (!flush_buffer() || !put(s, static_cast<size_t>(n))) return 0;  // large blocks (tensors) go straight through
    return n;
  }
  int sync() override { return flush_buffer() ? 0 : -1; }

 private:
  bool put(const char* p, size_t n) {
    if (err_) return false;
    if (!write_all(fd_, p, n)) err_ = errno;
    return err_ == 0;
  }
  int fd_;
  int err_ = 0;
  char buf_[1 << 16];
};

// Runs `body` on a stream over `fd` and flushes it; throws "path: write failed: ..." on any write error.
void write_through(int fd, const std::filesystem::path& path, const std::function<void(std::ostream&)>& body) {
  FdBuf buf(fd);
  std::ostream out(&buf);
  body(out);
  out.flush();
  if (buf.error()) write_failed(path, buf.error());
  if (!out) fail(path.string(), "write failed");
}

}  // namespace

void write_stream_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& body) {
  namespace fs = std::filesystem;
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) fail(path.string(), "is a directory, not a file");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail(path.string(), "cannot open for writing: {}", std::strerror(errno));
    try {
      write_through(fd, path, body);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) write_failed(path, errno);
    return;
  }
  std::string tmp;
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 10; ++tries) {  // O_EXCL: a name in use (however unlikely) is never shared
    tmp = temporary_name(path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail(path.string(), "cannot create {}: {}", tmp, std::strerror(errno));
  bool open = true;
  try {
    write_through(fd, path, body);
    if (::fsync(fd) != 0) write_failed(path, errno);
    open = false;
    if (::close(fd) != 0) write_failed(path, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail(path.string(), "cannot replace: {}", std::strerror(errno));
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
}

void write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
  write_stream_atomic(path, [&](std::ostream& out) { out.write(contents.data(), static_cast<std::streamsize>(contents.size())); });
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::open(const std::filesystem::path& path, bool truncate) {
  if (fd_ >= 0) close();
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0666);
  if (fd_ < 0) fail(path.string(), "cannot open for writing: {}", std::strerror(errno));
}

void AppendFile::append(const std::string& text) {
  if (fd_ < 0) return;
  struct stat st {};
  const bool sized = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  if (write_all(fd_, text.data(), text.size())) return;
  const int err = errno;
  // Cut back to the size before this call, so that no later append joins a torn line.
  if (sized && ::ftruncate(fd_, st.st_size) != 0)
    fail(path_.string(), "write failed: {} (and the partial line could not be removed: {})", std::strerror(err),
         std::strerror(errno));
  write_failed(path_, err);
}

void AppendFile::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) write_failed(path_, errno);
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

void require_new_output_files(const std::vector<std::pair<std::string, fs::path>>& outputs,
                              const std::vector<fs::path>& inputs, bool overwrite) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, out] = outputs[i];
    if (out.empty()) continue;
    const std::string o = normalized(out);
    for (size_t j = 0; j < i; ++j)
      if (!outputs[j].second.empty() && normalized(outputs[j].second) == o)
        fail(flag, "'{}' is also {}: give each output its own file", out.string(), outputs[j].first);
    for (const auto& in : inputs)
      if (!in.empty() && normalized(in) == o)
        fail(flag, "'{}' is an input of this command: choose another file", out.string());
    struct stat st {};
    if (::stat(out.c_str(), &st) != 0) continue;  // does not exist yet
    if (S_ISDIR(st.st_mode)) fail(flag, "'{}' is a directory: give a file name", out.string());
    if (!overwrite) fail(flag, "'{}' exists: pass --overwrite to replace it, or choose another file", out.string());
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

OutputLock::~OutputLock() { release(); }

OutputLock::OutputLock(OutputLock&& other) noexcept
    : file_(std::move(other.file_)), fd_(std::exchange(other.fd_, -1)) {}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release();
    file_ = std::move(other.file_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void OutputLock::release() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());  // while still holding it: a run that opened this file sees it gone and retries
  ::close(fd_);
  fd_ = -1;
}

OutputLock OutputLock::acquire(const std::string& flag, const fs::path& dir) {
  if (dir.empty()) fail(flag, "empty path");
  const fs::path full = normalized(dir);  // one lock for every spelling of the directory
  const fs::path parent = full.has_parent_path() ? full.parent_path() : fs::path("/");
  std::error_code ec;
  fs::create_directories(parent, ec);
  OutputLock lock;
  lock.file_ = parent / ("." + full.filename().string() + ".lock");
  for (;;) {
    const int fd = ::open(lock.file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) fail(flag, "cannot create the lock file {}: {}", lock.file_.string(), std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err != EWOULDBLOCK) {
        ::close(fd);
        fail(flag, "cannot lock {}: {}", lock.file_.string(), std::strerror(err));
      }
      // The holder writes its pid right after locking (over a killed run's, maybe): give it a moment.
      std::string pid;
      for (int i = 0; i < 50; ++i) {
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        const long p = pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos ? 0 : std::atol(pid.c_str());
        if (p > 0 && (::kill(static_cast<pid_t>(p), 0) == 0 || errno != ESRCH)) break;  // a live process
        pid.clear();
        ::usleep(10000);
      }
      ::close(fd);
      fail(flag, "'{}' is being written by another run ({}): wait for it to end, or choose another directory",
           dir.string(), pid.empty() ? std::string("pid unknown") : "pid " + pid);
    }
    // Locked, but maybe a file its previous holder unlinked as we opened it: then start again.
    struct stat held {}, now {};
    if (::fstat(fd, &held) != 0 || ::stat(lock.file_.c_str(), &now) != 0 || held.st_ino != now.st_ino ||
        held.st_dev != now.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || !write_all(fd, pid.data(), pid.size())) {
      const int err = errno;
      ::unlink(lock.file_.c_str());
      ::close(fd);
      fail(flag, "cannot write the lock file {}: {}", lock.file_.string(), std::strerror(err));
    }
    lock.fd_ = fd;
    return lock;
  }
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
    // Swap the new result and the old in one step: the target is never missing, so a run killed
    // here leaves the old result or the new one where summary.json points, never nothing.
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) == 0) {
      published_ = true;
      remove_tree(tmp_);  // the previous result, now under the temporary name
      return;
    }
    if (errno != EINVAL && errno != ENOSYS)  // else a file system without exchange: move the old result aside
      fail(flag, "cannot replace '{}': {}", target_.string(), std::strerror(errno));
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
