#include "io/hf_code.h"

#include "util/files.h"

namespace hyb {

const std::vector<std::pair<std::string, std::string>>& hf_code_files() {
  static const std::vector<std::pair<std::string, std::string>> files = {
#include "hf_code_files.inc"
  };
  return files;
}

void write_hf_code(const std::filesystem::path& dir) {
  for (const auto& [name, text] : hf_code_files()) write_file_atomic(dir / name, text);
}

}  // namespace hyb
