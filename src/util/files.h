// util/files: file-system helpers that the standard library would otherwise provide.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace hyb {

// Removes `path` and everything below it (nothing if it does not exist); throws hyb::Error naming
// the entry that could not be removed. Used instead of std::filesystem::remove_all: the pip
// LibTorch 2.x exports its own copy of that function, which the dynamic linker can bind in place
// of libstdc++'s, and that copy crashed (a call through a null pointer) in our test binary on the
// GPU machine.
void remove_tree(const std::filesystem::path& path);

// Refuses (hyb::Error naming `path`) a path that is missing or is not a regular file: a directory, or
// a FIFO, device or socket, whose open or read blocks forever (a FIFO named model.safetensors hung
// the loader). Every reader of an input file calls this before opening it.
void require_regular_file(const std::filesystem::path& path);

// The whole file as bytes; throws hyb::Error naming the file if it is not a regular file or cannot be opened.
std::string read_file(const std::filesystem::path& path);

// Writes through `body` into a temporary PATH.tmp.<pid>.<random> (a name no other process or
// writer uses, so two runs never write one temporary), fsyncs, then renames over PATH: readers see
// the old file or the new one, never half of one. Every write, the flush, the fsync and the close
// are checked: a failure (a full disk, a file size limit) throws hyb::Error "PATH: write failed:
// <errno text>" and removes the temporary, as does an exception from `body`; a killed run leaves at
// most a stale PATH.tmp.*. A PATH that exists and is not a regular file (/dev/stdout, /dev/null, a
// FIFO) is written in place, checked the same way: it cannot be replaced by a rename.
void write_stream_atomic(const std::filesystem::path& path, const std::function<void(std::ostream&)>& body);
// Write `contents` to `path` atomically (temporary file + rename). For JSON outputs and logs.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

// A file that grows line by line (a journal, a log), every write checked: append() writes its text
// whole or throws hyb::Error "PATH: write failed: <errno text>" after cutting the file back to its
// size before the call, so a failed append never leaves half a line for the next one to join.
class AppendFile {
 public:
  AppendFile() = default;
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  // Opens (creating it if missing) for appending; `truncate` empties it first.
  void open(const std::filesystem::path& path, bool truncate);
  bool is_open() const { return fd_ >= 0; }
  void append(const std::string& text);
  void close();  // checked (the destructor closes without a check)

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// The lock a command holds on its output directory while it writes it: a second run into the same
// directory is refused at once instead of interleaving with the first. An flock(2) on
// "<parent>/.<name>.lock" beside the directory (beside it, so that the directory itself stays empty
// for require_new_output_dir and StagedDir's rename), released by the kernel when the process dies:
// a killed run never blocks the next. The file holds the holder's pid, for the refusal's message,
// and is removed on release.
class OutputLock {
 public:
  OutputLock() = default;
  ~OutputLock();
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  // Takes the lock on `dir` (which need not exist yet; its parent is created), or throws
  // hyb::Error(flag, "'DIR' is being written by another run (pid N): ...").
  static OutputLock acquire(const std::string& flag, const std::filesystem::path& dir);
  void release();

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

// Refuses (hyb::Error naming `flag` and `out`) an output directory whose creation would replace
// something the command did not make: an existing file, a non-empty directory, or `out` equal to or
// above one of `inputs` (the model directory a command reads, say). A new path or an empty directory
// is accepted. `resume_hint` is added to the non-empty case ("pass --resume to continue").
void require_new_output_dir(const std::string& flag, const std::filesystem::path& out,
                            const std::vector<std::filesystem::path>& inputs = {}, const std::string& resume_hint = "");

// The result files of one command, as (flag, path) pairs in flag order; an empty path is an unset
// flag. Refuses (hyb::Error naming the flag and the file), before the work starts so that a long run
// is not refused at its end, any output that would replace something without being asked: an
// existing file unless `overwrite` (the user's --overwrite), a directory, one of `inputs` (whatever
// `overwrite` says: a result does not replace what the command reads), or a file that another of the
// outputs also names (eval --out r.json --samples r.json: the samples replaced the results).
void require_new_output_files(const std::vector<std::pair<std::string, std::filesystem::path>>& outputs,
                              const std::vector<std::filesystem::path>& inputs, bool overwrite);

// Refuses `out` equal to or above one of `inputs` (see require_new_output_dir).
void require_outside_inputs(const std::string& flag, const std::filesystem::path& out,
                            const std::vector<std::filesystem::path>& inputs);

// A result directory built beside its destination and renamed into place: readers see no directory
// or the whole result, never half of one. The directory is removed again unless publish() ran.
class StagedDir {
 public:
  // Creates "<parent of target>/.<name of target>.tmp-XXXXXX" (and the parent, if missing).
  explicit StagedDir(std::filesystem::path target);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  const std::filesystem::path& path() const { return tmp_; }
  // Renames the staged directory to the target. The target must be absent or an empty directory
  // (rename(2) refuses a non-empty one, so nothing is deleted); with `replace` an existing target
  // (a result of the same command, e.g. a resumed search's M_best) is first moved aside, then removed.
  void publish(const std::string& flag, bool replace = false);

 private:
  std::filesystem::path target_, tmp_;
  bool published_ = false;
};

}  // namespace hyb
