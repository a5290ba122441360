#include "train/log.h"

#include <fstream>
#include <string>

#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;

void truncate_log(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    nlohmann::json j;
    try {
      j = parse_json(line, path.string());  // depth-checked; a damaged line is dropped, as before
    } catch (const Error&) {
      continue;
    }
    if (!j.contains("step") || !j["step"].is_number_integer() || j["step"].get<int64_t>() > step) continue;
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

void JsonlLog::open(const fs::path& path, int64_t resume_step, bool write) {
  if (!write) return;
  if (resume_step < 0) {
    out_.open(path, /*truncate=*/true);
    return;
  }
  truncate_log(path, resume_step);
  out_.open(path, /*truncate=*/false);
}

void JsonlLog::write(const nlohmann::json& line) {
  out_.append(line.dump() + "\n");
}

}  // namespace hyb
