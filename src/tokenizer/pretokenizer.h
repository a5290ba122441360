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
#include <type_traits>
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

// Where pieces go: a non-owning reference to a callable taking a Piece. Words stream from one
// step to the next and on to BPE without a list of all the words of a long text in between.
class PieceSink {
 public:
  template <typename F>
  PieceSink(F&& f)  // NOLINT: implicit, so that a lambda can be passed directly
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, const Piece& p) { (*static_cast<std::remove_reference_t<F>*>(o))(p); }) {}
  void operator()(const Piece& p) const { call_(obj_, p); }

 private:
  void* obj_;
  void (*call_)(void*, const Piece&);
};

class PreTokenizer {
 public:
  static PreTokenizer parse(const nlohmann::json& j, const std::string& where);

  bool byte_level() const { return byte_level_; }
  // Passes the non-empty words of `text` to `out` (views into text or into store).
  void run(std::string_view text, bool at_start, PieceStore& store, PieceSink out) const;

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
  void apply_from(size_t step, const Piece& p, PieceStore& store, PieceSink out) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

// The split that all Split-like steps share, exposed for tests: cuts `p` at the regex matches
// and groups matches and the text between them according to `behavior` (HF semantics).
void split_pieces(const Regex& re, SplitBehavior behavior, bool invert, const Piece& p, PieceSink out);

}  // namespace hyb::tok
