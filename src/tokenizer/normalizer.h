// normalizer: tokenizer.json's "normalizer", applied to each piece of text between added tokens
// before pre-tokenization. Supported: Sequence, NFC/NFD/NFKC/NFKD (utf8proc), Lowercase,
// Prepend (only to non-empty text, as HF does), Replace (String or Regex pattern), Strip.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace hyb::tok {

class Normalizer {
 public:
  // Parses the "normalizer" value (null: none). Throws hyb::Error naming `where`.
  static Normalizer parse(const nlohmann::json& j, const std::string& where);

  bool empty() const { return steps_.empty(); }
  // Normalized text: `in` itself when nothing changes, else a view of `buf`.
  std::string_view apply(std::string_view in, std::string& buf) const;

 private:
  enum class Kind { NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip };
  struct Step {
    Kind kind;
    std::string text;  // Prepend: prefix; Replace: the literal pattern
    std::string content;  // Replace: replacement
    std::shared_ptr<Regex> regex;  // Replace with a Regex pattern
    bool left = false, right = false;  // Strip
  };
  static void parse_into(const nlohmann::json& j, const std::string& where, std::vector<Step>& out);
  std::vector<Step> steps_;
};

}  // namespace hyb::tok
