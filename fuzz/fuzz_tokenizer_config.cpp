// fuzz_tokenizer_config: tokenizer's Tokenizer::load on a directory whose tokenizer_config.json
// holds the fuzzer's bytes (bos/eos tokens as strings or objects, add_bos_token, add_eos_token),
// beside a small valid tokenizer.json (sentencepiece-style BPE with byte fallback, as
// stories260K's), then the same encode/decode as fuzz_tokenizer.
#include "fuzz/exercise_tokenizer.h"
#include "fuzz/fuzz_common.h"

namespace {

const char kTokenizerJson[] = R"({
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true, "normalized": false},
    {"id": 1, "content": "<s>", "special": true, "normalized": false},
    {"id": 2, "content": "</s>", "special": true, "normalized": false}],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
  "pre_tokenizer": null,
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
  "decoder": {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0x41>": 4, "\u2581": 5, "o": 6, "n": 7, "on": 8,
              "\u2581on": 9, "e": 10, "t": 11, "i": 12, "m": 13, "a": 14},
    "merges": ["o n", "\u2581 on"]}
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool written = [] {
    hyb::fuzz::write_input("tokenizer.json", kTokenizerJson, sizeof(kTokenizerJson) - 1);
    return true;
  }();
  (void)written;
  hyb::fuzz::write_input("tokenizer_config.json", data, size);
  hyb::fuzz::accept_or_refuse([&] { hyb::fuzz::exercise(hyb::Tokenizer::load(hyb::fuzz::scratch_dir())); });
  return 0;
}
