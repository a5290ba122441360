// fuzz_safetensors_index: io/safetensors' WeightStore::open_dir on a model directory whose
// model.safetensors.index.json holds the fuzzer's bytes, beside two small valid shards (tensors
// "a" and "b" in model-00001-of-00002.safetensors, "c" in model-00002-of-00002.safetensors), so
// that the index's cross-checks against the shards are reached.
#include <ATen/core/Tensor.h>

#include <string>

#include "fuzz/fuzz_common.h"
#include "io/safetensors.h"

namespace {

// A safetensors file of F32 tensors of 2 elements each, named `names`, zero-filled.
std::string shard(const std::vector<std::string>& names) {
  std::string header = "{";
  for (size_t i = 0; i < names.size(); ++i)
    header += (i ? "," : "") + std::string("\"") + names[i] + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" +
              std::to_string(8 * i) + "," + std::to_string(8 * i + 8) + "]}";
  header += "}";
  std::string out(8, '\0');
  for (int b = 0; b < 8; ++b) out[b] = static_cast<char>((header.size() >> (8 * b)) & 0xff);
  return out + header + std::string(8 * names.size(), '\0');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool shards_written = [] {
    const std::string s1 = shard({"a", "b"}), s2 = shard({"c"});
    hyb::fuzz::write_input("model-00001-of-00002.safetensors", s1.data(), s1.size());
    hyb::fuzz::write_input("model-00002-of-00002.safetensors", s2.data(), s2.size());
    return true;
  }();
  (void)shards_written;
  hyb::fuzz::write_input("model.safetensors.index.json", data, size);
  hyb::fuzz::accept_or_refuse([&] {
    const hyb::WeightStore w = hyb::WeightStore::open_dir(hyb::fuzz::scratch_dir());
    for (const auto& name : w.names()) (void)w.tensor(name).sum();
  });
  return 0;
}
