// fuzz_safetensors: io/safetensors' SafetensorsFile::open on a file of the fuzzer's bytes (the
// header length, the JSON header, its dtypes, shapes and offsets against the data area), then
// every accepted tensor read as the loader reads it: its bytes must lie inside the file.
#include <ATen/core/Tensor.h>

#include "fuzz/fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = hyb::fuzz::write_input("model.safetensors", data, size);
  hyb::fuzz::accept_or_refuse([&] {
    auto f = hyb::SafetensorsFile::open(path);
    uint8_t sum = 0;
    for (const auto& [name, e] : f->entries()) {
      const at::Tensor t = f->tensor(name);
      if (static_cast<size_t>(t.nbytes()) != e.nbytes) {
        std::fprintf(stderr, "finding: tensor '%s' has %zu bytes, its entry %zu\n", name.c_str(),
                     static_cast<size_t>(t.nbytes()), e.nbytes);
        std::abort();
      }
      for (size_t i = 0; i < e.nbytes; ++i) sum += e.data[i];  // past the mapping: a crash
    }
    for (const auto& [k, v] : f->metadata()) sum += static_cast<uint8_t>(k.size() + v.size());
    (void)sum;
  });
  return 0;
}
