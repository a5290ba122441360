// impl: the parts of a loaded tokenizer, in the order text flows through them:
//   text -> added tokens split -> normalizer -> pre-tokenizer -> BPE per word -> post-processor
// and back: ids -> pieces -> decoder -> text. Internal header shared by tokenizer/*.cpp and tests.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"

namespace hyb {

struct Tokenizer::Impl {
  std::string source;  // tokenizer.json path, for messages

  tok::AddedVocab added;
  tok::Normalizer normalizer;
  tok::PreTokenizer pre;
  tok::BpeModel model;
  tok::Decoder decoder;

  // Post-processor for one sequence: encode(add_special=true) = prefix + ids + suffix.
  std::vector<int32_t> prefix, suffix;
  std::optional<int32_t> bos, eos;

  // Per id (size vocab_size): the piece (added tokens override the model's), flags.
  std::vector<std::string> pieces;
  std::vector<uint8_t> special;  // 1: added token with "special": true

  int32_t vocab_size() const { return static_cast<int32_t>(pieces.size()); }
  std::optional<int32_t> token_id(const std::string& piece) const;
};

namespace tok {

// Post-processor of tokenizer.json -> prefix/suffix ids of a single sequence.
void parse_post_processor(const nlohmann::json& j, const std::string& where, Tokenizer::Impl& t);

// tokenizer_config.json rules: bos_token/eos_token name the BOS/EOS ids; add_bos_token and
// add_eos_token, when present, override what the post-processor adds.
void apply_tokenizer_config(const nlohmann::json& cfg, const std::string& where, Tokenizer::Impl& t);

}  // namespace tok
}  // namespace hyb
