// io/hf_code: the Python modeling code an exported hybrid ships beside its weights, so that
// transformers runs it (AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True), through
// the auto_map that ModelConfig::to_json writes). The sources live in python/hybridize_hf/ and are
// embedded into the library at build time (CMakeLists.txt): an installed binary needs no source tree.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace hyb {

// (file name, text) of every embedded Python file.
const std::vector<std::pair<std::string, std::string>>& hf_code_files();
// Writes them into `dir` (atomically, file by file).
void write_hf_code(const std::filesystem::path& dir);

}  // namespace hyb
