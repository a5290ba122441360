// fuzz_linear_file: linear/linear_file's LinearFile::open on a linear.safetensors of the fuzzer's
// bytes (its metadata: the module settings as JSON, the stored layers, the teacher's identity;
// and its tensors against the modules those settings describe), then what perplexity, search and
// export do next: check_fits against a small model's config and every stored layer's tensors
// checked and its module built (LinearFile::module).
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.h"
#include "io/config.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/mixer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A model the modules might fit (stories260K's shape): hidden 64, 5 layers, 8 heads, 4 kv heads.
  static const hyb::ModelConfig model = hyb::ModelConfig::from_json(
      nlohmann::json{{"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 172},
                     {"num_hidden_layers", 5}, {"num_attention_heads", 8}, {"num_key_value_heads", 4},
                     {"vocab_size", 512}},
      "fuzz model");
  const auto path = hyb::fuzz::write_input("linear.safetensors", data, size);
  hyb::fuzz::accept_or_refuse([&] {
    const hyb::LinearFile f = hyb::LinearFile::open(path);
    (void)f.settings_json().dump();
    try {
      f.check_fits(model);
    } catch (const hyb::Error&) {
    }
    for (int64_t l : f.layers()) {
      (void)f.tensors(l);
      (void)f.module(l, at::kCPU, at::kFloat);
    }
  });
  return 0;
}
