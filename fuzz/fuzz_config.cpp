// fuzz_config: io/config's ModelConfig::load on a config.json of the fuzzer's bytes, then the
// derived config an export would write back (to_json) and the per-layer queries.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.h"
#include "io/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = hyb::fuzz::write_input("config.json", data, size);
  hyb::fuzz::accept_or_refuse([&] {
    const hyb::ModelConfig c = hyb::ModelConfig::load(path);
    (void)c.to_json().dump();
    for (int64_t l = 0; l < c.num_layers; ++l) (void)c.is_linear(l);
    (void)c.num_linear_layers();
  });
  return 0;
}
