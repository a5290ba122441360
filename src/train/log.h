// train/log: log.jsonl, one JSON object per logged step ({"step": s, ...}), written by rank 0 and
// appended line by line, every write checked (util/files' AppendFile: a full disk stops the run
// with "log.jsonl: write failed: ..." rather than a log silently cut short). A resumed run keeps
// the lines up to its checkpoint's step and appends: it redoes the steps after it, and a line cut
// short by the interruption is dropped. Pure C++.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>

#include "util/files.h"

namespace hyb {

// Keeps the lines of a log up to `step` (and drops lines that do not parse).
void truncate_log(const std::filesystem::path& log, int64_t step);

class JsonlLog {
 public:
  // resume_step < 0: a new log (truncated); else the lines up to resume_step are kept.
  // `write` false (ranks other than 0): nothing is opened or written.
  void open(const std::filesystem::path& path, int64_t resume_step, bool write = true);
  void write(const nlohmann::json& line);

 private:
  AppendFile out_;
};

}  // namespace hyb
