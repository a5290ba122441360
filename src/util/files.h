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

// Writes through `body` into PATH.tmp, fsyncs, then renames over PATH: readers see the old file
// or the new one, never half of one (a killed run leaves at most a stale .tmp).
void write_stream_atomic(const std::filesystem::path& path, const std::function<void(std::ofstream&)>& body);
// Write `contents` to `path` atomically (temporary file + rename). For JSON outputs and logs.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

// Refuses (hyb::Error naming `flag` and `out`) an output directory whose creation would replace
// something the command did not make: an existing file, a non-empty directory, or `out` equal to or
// above one of `inputs` (the model directory a command reads, say). A new path or an empty directory
// is accepted. `resume_hint` is added to the non-empty case ("pass --resume to continue").
void require_new_output_dir(const std::string& flag, const std::filesystem::path& out,
                            const std::vector<std::filesystem::path>& inputs = {}, const std::string& resume_hint = "");

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
