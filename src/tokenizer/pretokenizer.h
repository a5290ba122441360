// pretokenizer: tokenizer.json's "pre_tokenizer": cuts normalized text into words that BPE
// then encodes one by one (BPE never merges across words).
// Supported: Sequence, Split (Regex or String pattern, all five behaviours, invert), ByteLevel
// (optional prefix space and GPT-2 regex), Metaspace (prepend_scheme always/first/never, split),
// Digits, Whitespace, WhitespaceSplit.
// ByteLevel's own job, respelling bytes as "Ġ"-style characters, is not done here: the BPE model
// works on raw bytes directly (bpe.h), so ByteLevel only marks the model as byte-level.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace hyb::tok {

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Piece {
  std::string_view text;
  bool at_start;  // begins at offset 0 of the input text (Metaspace prepend_scheme "first")
};

// Storage for text that a step rewrites (Metaspace, prefix space); deque keeps views valid.
using PieceStore = std::deque<std::string>;

class PreTokenizer {
 public:
  static PreTokenizer parse(const nlohmann::json& j, const std::string& where);

  bool byte_level() const { return byte_level_; }
  // Appends the words of `text` to `words` (views into text or into store).
  void run(std::string_view text, bool at_start, PieceStore& store, std::vector<Piece>& words) const;

 private:
  enum class Kind { Split, PrefixSpace, Metaspace };
  struct Step {
    Kind kind;
    std::shared_ptr<Regex> regex;  // Split (also ByteLevel's GPT-2 regex, Digits, ...)
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    std::string replacement;  // Metaspace
    enum class Prepend { Always, First, Never } prepend = Prepend::Always;
    bool split = true;  // Metaspace
  };
  static void parse_into(const nlohmann::json& j, const std::string& where, PreTokenizer& out);
  void apply(const Step& st, const Piece& p, PieceStore& store, std::vector<Piece>& out) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// The split that all Split-like steps share, exposed for tests: cuts `s` at the regex matches
// and groups matches and the text between them according to `behavior` (HF semantics).
void split_pieces(const Regex& re, SplitBehavior behavior, bool invert, const Piece& p,
                  std::vector<Piece>& out);

}  // namespace hyb::tok
