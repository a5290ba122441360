// added_tokens: tokenizer.json's "added_tokens" (special ones like <|im_end|> and plain added
// words), found in the text before anything else runs, so they are never split by BPE.
// Matching follows HF's AddedVocabulary: leftmost-longest over all tokens, tokens with
// normalized=false are matched in the raw text and tokens with normalized=true in the normalized
// text; single_word rejects a match touching a word character, lstrip/rstrip absorb the
// whitespace on that side into the token.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hyb::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, normalized = false, lstrip = false, rstrip = false, single_word = false;
};

// A piece of text after splitting: an added token (id >= 0) or plain text (id == -1).
struct Segment {
  size_t begin, end;
  int32_t id;
};

class AddedVocab {
 public:
  // Builds both matchers. Normalized tokens are matched by their normalized content.
  void build(std::vector<AddedToken> tokens, const Normalizer& normalizer);

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool has_normalized() const { return !norm_.empty(); }

  // Splits text into segments covering it. normalized=false: the raw-text matcher.
  void split(std::string_view text, bool normalized, std::vector<Segment>& out) const;

 private:
  struct Matcher {
    std::vector<std::string> patterns;  // what is searched for
    std::vector<size_t> token;          // index into tokens_
    std::array<std::vector<uint32_t>, 256> by_first;  // pattern indices, longest first
    bool empty() const { return patterns.empty(); }
  };
  void build_matcher(Matcher& m);
  std::vector<AddedToken> tokens_;
  Matcher raw_, norm_;
};

}  // namespace hyb::tok
