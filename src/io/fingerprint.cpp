#include "io/fingerprint.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/json.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

std::string fnv1a_hex(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

ModelFingerprint model_fingerprint(const fs::path& dir) {
  ModelFingerprint fp;
  const fs::path config = dir / "config.json";
  fp.config = fnv1a_hex(read_json_file(config).dump());
  const WeightStore store = WeightStore::open_dir(dir);
  std::map<std::string, const TensorEntry*> entries;
  for (const auto& name : store.names()) entries[name] = &store.entry(name);
  std::string text;
  for (const auto& [name, e] : entries) {
    text += name + "|" + e->dtype + "|";
    for (int64_t d : e->shape) text += std::to_string(d) + ",";
    text += ";";
  }
  fp.weights = fnv1a_hex(text);
  return fp;
}

std::string file_fingerprint(const fs::path& path) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot read");
  uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 0x100000001b3ULL;
    }
  }
  return fmt::format("{:016x}", h);
}

}  // namespace hyb
