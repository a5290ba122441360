// demo/vocab: the demo world's vocabulary and its tokenizer. One token per word, words separated
// by spaces: single characters (keys a-z, values A-Z, digits, markers = | . ~ #) and pair words,
// a key and a value bound in one word ("aX": key a holds value X; keys a-p, values A-P).
//
//   ids 0-2      <s> </s> <unk>                    special
//   ids 3-69     the 67 one-character words
//   ids 70-325   the 256 pair words
//   ids 326-393  "▁" and the 67 characters         BPE pieces tokenizer.json needs (see below)
//
// tokenizer.json is a sentencepiece-style BPE (Llama-2 layout): Metaspace turns "a aX" into
// "▁a▁aX"; merges "▁" + "a" -> "▁a" and then "▁a" + "X" -> "▁aX" make every word one token, so
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
constexpr int kPairKeys = 16, kPairValues = 16;  // pair words use keys a-p, values A-P

int32_t vocab_size();                 // model rows: words and pieces
int32_t key_id(int i);                // 'a' + i
int32_t value_id(int i);              // 'A' + i
int32_t digit_id(int d);              // '0' + d
int32_t mark_id(char c);              // one of = | . ~ #
int32_t pair_id(int key, int value);  // "aX" for key 0, value 23 (key < kPairKeys, value < kPairValues)
const std::string& word(int32_t id);  // "<s>", "a", ..., "▁", ...
int32_t word_id(std::string_view w);  // -1 if not a word of the world

// Words separated by (runs of) spaces -> ids, unknown words -> <unk>; BOS first if add_bos.
std::vector<int32_t> encode(std::string_view text, bool add_bos = true);
// Ids -> words joined by single spaces (special tokens skipped).
std::string decode(const std::vector<int32_t>& ids);

nlohmann::json tokenizer_json();         // tokenizer.json
nlohmann::json tokenizer_config_json();  // tokenizer_config.json (bos/eos names, add_bos)

}  // namespace hyb::demo
