#include "train/log.h"

#include <string>

#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

void truncate_log(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("step") || j["step"].get<int64_t>() > step) continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

void JsonlLog::open(const fs::path& path, int64_t resume_step, bool write) {
  if (!write) return;
  if (resume_step < 0) {
    out_.open(path, std::ios::trunc);
    return;
  }
  truncate_log(path, resume_step);
  out_.open(path, std::ios::app);
}

void JsonlLog::write(const nlohmann::json& line) {
  if (out_.is_open()) out_ << line.dump() << "\n" << std::flush;
}

}  // namespace hyb
