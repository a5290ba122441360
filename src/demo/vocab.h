// demo/vocab: the demo world's vocabulary and its tokenizer. One token per word; a word is one
// character (keys a-z, values A-Z, digits, markers = | . ~ #), words are separated by spaces.
//
//   ids 0-2    <s> </s> <unk>                     special
//   ids 3-69   the 67 words                       what the world's text uses
//   ids 70-137 "▁" and the 67 characters          BPE pieces tokenizer.json needs (see below)
//
// tokenizer.json is a sentencepiece-style BPE (Llama-2 layout): Metaspace turns "a X" into
// "▁a▁X", and one merge per word ("▁" + "a" -> "▁a") makes every word a single token, so
// hybridize's Tokenizer (and Hugging Face's) encode world text exactly as encode() here does,
// and `hybridize generate` / `hybridize eval` work on the demo's model. The piece ids exist only
// because BPE needs them; world text never produces them. Pure C++.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hyb::demo {

constexpr int32_t kBos = 0, kEos = 1, kUnk = 2;
constexpr int kKeys = 26, kValues = 26, kDigits = 10;

int32_t vocab_size();                 // model rows: words and pieces
int32_t key_id(int i);                // 'a' + i
int32_t value_id(int i);              // 'A' + i
int32_t digit_id(int d);              // '0' + d
int32_t mark_id(char c);              // one of = | . ~ #
const std::string& word(int32_t id);  // "<s>", "a", ..., "▁", ...
int32_t word_id(std::string_view w);  // -1 if not a word of the world

// Words separated by (runs of) spaces -> ids, unknown words -> <unk>; BOS first if add_bos.
std::vector<int32_t> encode(std::string_view text, bool add_bos = true);
// Ids -> words joined by single spaces (special tokens skipped).
std::string decode(const std::vector<int32_t>& ids);

nlohmann::json tokenizer_json();         // tokenizer.json
nlohmann::json tokenizer_config_json();  // tokenizer_config.json (bos/eos names, add_bos)

}  // namespace hyb::demo
