// fuzz_json: util/json's parse_json, the one way JSON text is parsed (every JSON input goes
// through it), then what callers do with a document: copy, dump and compare it (recursive in
// nlohmann, hence the depth limit).
#include <nlohmann/json.hpp>

#include <string_view>

#include "fuzz/fuzz_common.h"
#include "util/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hyb::fuzz::accept_or_refuse([&] {
    const nlohmann::json j = hyb::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const nlohmann::json copy = j;
    if (!(copy == j) && !j.is_discarded()) {
      // NaN is not produced by the parser, so a document always equals its copy.
      std::fprintf(stderr, "finding: a parsed document differs from its copy\n");
      std::abort();
    }
    (void)copy.dump();
  });
  return 0;
}
