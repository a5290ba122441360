// io/safetensors: memory-mapped reading and atomic writing (through util/files) of the safetensors format
// (8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// then the raw little-endian tensor bytes). Every header is validated against the file before
// any tensor is touched, by the reference library's rules: a regular file (a FIFO or directory is
// refused, never waited on), header length inside the file, a JSON object header, known dtypes,
// byte counts that match dtype x shape (overflow checked), and offsets that tile the data area
// exactly (contiguous from 0, no hole, no two tensors over the same bytes, no trailing bytes). Tensors are exposed zero-copy (at::from_blob over the mapping,
// which stays alive as long as any tensor or view of it does).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hyb {

struct TensorEntry {
  std::string name;
  std::string dtype;            // safetensors dtype string: "F32", "BF16", "F16", "I64", ...
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapping
  size_t nbytes = 0;
  std::filesystem::path file;     // for error messages
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws hyb::Error naming the file and the problem.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  ~SafetensorsFile();

  const std::map<std::string, TensorEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }
  bool has(const std::string& name) const { return entries_.count(name) > 0; }
  const TensorEntry& entry(const std::string& name) const;
  // Zero-copy CPU tensor over the mapping (read-only: clone before writing).
  at::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<SafetensorsFile> self_;
};

// All weights of a model directory: model.safetensors, or model.safetensors.index.json with its
// shards (every shard named by the index must exist, every tensor must be where the index says).
class WeightStore {
 public:
  static WeightStore open_dir(const std::filesystem::path& dir);
  static WeightStore open_files(const std::vector<std::filesystem::path>& files);
  bool has(const std::string& name) const { return where_.count(name) > 0; }
  const TensorEntry& entry(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;  // zero-copy
  std::vector<std::string> names() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;  // tensor name -> index into files_
};

// Writes tensors (any device / dtype F32, BF16, F16, F64, I64, I32, I8, U8, BOOL) to `path`
// atomically: a temporary file in the same directory, fsync, rename. Names are sorted.
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace hyb
