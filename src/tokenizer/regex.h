// regex: a compiled PCRE2 pattern (UTF + Unicode properties, JIT) used by the Split
// pre-tokenizer and the Replace normalizer. HF compiles these patterns with Oniguruma; the
// patterns found in tokenizer.json files ('s|\p{L}+|\s+(?!\S)...) mean the same in PCRE2.
// Invalid UTF-8 in the subject never fails a match (PCRE2_MATCH_INVALID_UTF): such bytes simply
// match no character class, so they end up between matches.
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace hyb::tok {

class Regex {
 public:
  // literal: match the pattern as a plain string (HF's {"String": ...} patterns).
  // Throws hyb::Error(where, ...) if the pattern does not compile.
  Regex(std::string_view pattern, bool literal, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Leftmost match in s at or after byte `from`: [start, end). Empty matches are skipped.
  bool find(std::string_view s, size_t from, size_t& start, size_t& end) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  std::string where_;
};

}  // namespace hyb::tok
