// fuzz_tokenizer: tokenizer's Tokenizer::load on a tokenizer.json of the fuzzer's bytes (streamed
// vocab and merges, normalizer, pre-tokenizer, decoder, added tokens, post-processor), then what
// generate and the data pipeline do with a loaded tokenizer: encode a fixed text, decode the ids
// (whole and streamed) and look up every piece.
#include "fuzz/fuzz_common.h"
#include "fuzz/exercise_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = hyb::fuzz::write_input("tokenizer.json", data, size);
  hyb::fuzz::accept_or_refuse([&] { hyb::fuzz::exercise(hyb::Tokenizer::load(path)); });
  return 0;
}
