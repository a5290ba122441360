// io/fingerprint: a model directory's identity, cheap enough to take on every run: a 64-bit
// FNV-1a hash of its config.json (parsed and re-serialised with sorted keys, so whitespace and key
// order do not count) and one of its weights' safetensors headers (every tensor's name, dtype and
// shape; no weight bytes are read). Artefacts made from a model record it (linear.safetensors,
// the search's summary) so that their consumers can refuse another model's.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace hyb {

struct ModelFingerprint {
  std::string config;   // 16 hex digits
  std::string weights;  // 16 hex digits
  std::string str() const { return config + "-" + weights; }
  bool operator==(const ModelFingerprint& o) const { return config == o.config && weights == o.weights; }
  bool operator!=(const ModelFingerprint& o) const { return !(*this == o); }
};

// Throws hyb::Error naming the file for a missing or unreadable config.json or weights.
ModelFingerprint model_fingerprint(const std::filesystem::path& dir);

// The FNV-1a 64-bit hash of `bytes`, as 16 hex digits.
std::string fnv1a_hex(const std::string& bytes);

// A file's identity: the FNV-1a hash of all its bytes (streamed), as 16 hex digits. Throws
// hyb::Error naming the file when it cannot be read.
std::string file_fingerprint(const std::filesystem::path& path);

}  // namespace hyb
