// Memory-mapped safetensors reading (validated) and atomic writing.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/json.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DTypeInfo {
  const char* name;
  size_t size;
  at::ScalarType type;
};
const DTypeInfo kDTypes[] = {
    {"F64", 8, at::kDouble}, {"F32", 4, at::kFloat},  {"F16", 2, at::kHalf},
    {"BF16", 2, at::kBFloat16}, {"I64", 8, at::kLong}, {"I32", 4, at::kInt},
    {"I16", 2, at::kShort},  {"I8", 1, at::kChar},    {"U8", 1, at::kByte},
    {"BOOL", 1, at::kBool},
};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}
const DTypeInfo* find_dtype(at::ScalarType t) {
  for (const auto& d : kDTypes)
    if (t == d.type) return &d;
  return nullptr;
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const fs::path& path) {
  const std::string where = path.string();
  require_regular_file(path);
  // O_NONBLOCK: a FIFO put under this name since the check must not block the open either.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(where, "cannot open: {}", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(where, "not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(where, "truncated safetensors file: {} bytes, the 8-byte header length is missing", size);
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) fail(where, "mmap failed: {}", std::strerror(errno));

  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_ = map;
  f->size_ = size;
  f->self_ = f;

  // Header: u64 little-endian length, then that many bytes of JSON.
  const auto* bytes = static_cast<const uint8_t*>(map);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > size - 8) fail(where, "header length {} exceeds the file ({} bytes): truncated or not safetensors", n, size);
  const json header = parse_json(std::string_view(reinterpret_cast<const char*>(bytes + 8), n), where + ": header");
  if (!header.is_object()) fail(where, "header is not a JSON object");
  const uint8_t* data = bytes + 8 + n;
  const size_t data_size = size - 8 - n;
  // [begin, end) of every tensor, to check that together they tile the data area exactly.
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> spans;

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) f->metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const std::string& name = it.key();
    const json& e = *it;
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(where, "tensor '{}': entry needs dtype, shape and data_offsets", name);
    TensorEntry t;
    t.name = name;
    t.file = path;
    if (!e["dtype"].is_string()) fail(where, "tensor '{}': dtype is not a string", name);
    t.dtype = e["dtype"].get<std::string>();
    const DTypeInfo* dt = find_dtype(t.dtype);
    if (!dt) fail(where, "tensor '{}': unknown dtype '{}'", name, t.dtype);
    size_t numel = 1;
    if (!e["shape"].is_array()) fail(where, "tensor '{}': shape is not an array", name);
    for (const auto& s : e["shape"]) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0) fail(where, "tensor '{}': bad shape entry", name);
      t.shape.push_back(s.get<int64_t>());
      if (__builtin_mul_overflow(numel, static_cast<size_t>(t.shape.back()), &numel))
        fail(where, "tensor '{}': shape {} overflows", name, e["shape"].dump());
    }
    size_t want = 0;
    if (__builtin_mul_overflow(numel, dt->size, &want)) fail(where, "tensor '{}': shape {} overflows", name, e["shape"].dump());
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(where, "tensor '{}': data_offsets must be two non-negative integers", name);
    const uint64_t b = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (b > end || end > data_size)
      fail(where, "tensor '{}': data_offsets [{}, {}] leave the data area ({} bytes)", name, b, end, data_size);
    if (end - b != want)
      fail(where, "tensor '{}': {} bytes for {} x {} elements of {} ({} expected)", name, end - b, numel,
           dt->size, t.dtype, want);
    spans.emplace_back(b, end, name);
    t.data = data + b;
    t.nbytes = end - b;
    f->entries_[name] = std::move(t);
  }
  // As the reference library: sorted by offset, each tensor starts where the previous ended (no
  // hole, no two tensors over the same bytes) and the last ends where the file does.
  std::sort(spans.begin(), spans.end());
  uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
  for (const auto& [b, end, name] : spans) {
    if (b < covered) fail(where, "tensor '{}': data_offsets [{}, {}] overlap another tensor's bytes", name, b, end);
    if (b > covered)
      fail(where, "tensor '{}': data_offsets [{}, {}] leave a hole (bytes {}..{} belong to no tensor)", name, b, end,
           covered, b);
    covered = end;
  }
  if (covered != data_size)
    fail(where, "{} trailing bytes after the last tensor (the header length or the offsets are wrong)",
         data_size - covered);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) munmap(map_, size_);
}

const TensorEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_.string(), "no tensor named '{}'", name);
  return it->second;
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorEntry& e = entry(name);
  auto keep = self_.lock();  // the mapping lives while any tensor over it does
  const DTypeInfo* dt = find_dtype(e.dtype);
  if (e.nbytes == 0) return at::empty(e.shape, at::TensorOptions().dtype(dt->type));
  return at::from_blob(const_cast<uint8_t*>(e.data), e.shape, [keep](void*) {},
                       at::TensorOptions().dtype(dt->type));
}

// ---------------------------------------------------------------------------------------------
// WeightStore: one file or an index of shards.

WeightStore WeightStore::open_files(const std::vector<fs::path>& files) {
  WeightStore w;
  if (!files.empty()) w.dir_ = files.front().parent_path();
  for (const auto& p : files) {
    auto f = SafetensorsFile::open(p);
    for (const auto& [name, e] : f->entries()) {
      if (w.where_.count(name)) fail(p.string(), "tensor '{}' also appears in {}", name, w.files_[w.where_[name]]->path().string());
      w.where_[name] = w.files_.size();
    }
    w.files_.push_back(f);
  }
  return w;
}

WeightStore WeightStore::open_dir(const fs::path& dir) {
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    const json j = read_json_file(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), "missing 'weight_map' object");
    std::vector<fs::path> shards;
    std::map<std::string, std::string> expected;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string()) fail(index.string(), "weight_map['{}'] is not a file name", it.key());
      const std::string shard = it->get<std::string>();
      expected[it.key()] = shard;
      const fs::path p = dir / shard;
      if (std::find(shards.begin(), shards.end(), p) == shards.end()) {
        if (!fs::exists(p)) fail(p.string(), "shard named by {} is missing", index.filename().string());
        shards.push_back(p);
      }
    }
    WeightStore w = open_files(shards);
    w.dir_ = dir;
    for (const auto& [name, shard] : expected) {
      auto it = w.where_.find(name);
      if (it == w.where_.end()) fail((dir / shard).string(), "tensor '{}' listed in the index is not in the shard", name);
      if (w.files_[it->second]->path().filename() != shard)
        fail(index.string(), "tensor '{}' is in {}, not {} as the index says", name,
             w.files_[it->second]->path().filename().string(), shard);
    }
    for (const auto& [name, i] : w.where_)
      if (!expected.count(name)) fail(w.files_[i]->path().string(), "tensor '{}' is not listed in the index", name);
    return w;
  }
  if (fs::exists(single)) {
    WeightStore w = open_files({single});
    w.dir_ = dir;
    return w;
  }
  fail(dir.string(), "no model.safetensors or model.safetensors.index.json");
}

const TensorEntry& WeightStore::entry(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(dir_.string(), "missing tensor '{}'", name);
  return files_[it->second]->entry(name);
}

at::Tensor WeightStore::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(dir_.string(), "missing tensor '{}'", name);
  return files_[it->second]->tensor(name);
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& [n, i] : where_) out.push_back(n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing.

void save_safetensors(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors_in,
                      const std::map<std::string, std::string>& metadata) {
  auto tensors = tensors_in;
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> cpu;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const DTypeInfo* dt = find_dtype(t.scalar_type());
    if (!dt) fail(path.string(), "tensor '{}': dtype {} cannot be written", name, std::string(c10::toString(t.scalar_type())));
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    const uint64_t n = static_cast<uint64_t>(c.numel()) * dt->size;
    header[name] = {{"dtype", dt->name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    cpu.push_back(c);
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');  // align the data area to 8 bytes
  write_stream_atomic(path, [&](std::ostream& out) {
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((uint64_t(h.size()) >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& c : cpu) out.write(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  });
}

}  // namespace hyb
