// pretokenizer: parsing the pre-tokenizer chain and cutting text into words (see pretokenizer.h).
#include "tokenizer/pretokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "util/error.h"

namespace hyb::tok {

namespace {

// GPT-2's pattern, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Span {
  size_t begin, end;
  bool match;
};

}  // namespace

void split_pieces(const Regex& re, SplitBehavior behavior, bool invert, const Piece& p, PieceSink out) {
  const std::string_view s = p.text;
  auto emit = [&](size_t b, size_t e) {
    if (e > b) out({s.substr(b, e - b), p.at_start && b == 0});
  };
  size_t prev = 0, b, e;
  if (behavior == SplitBehavior::Isolated) {  // the hot path (Qwen2, Llama-3): no grouping
    while (re.find(s, prev, b, e)) emit(prev, b), emit(b, e), prev = e;
    emit(prev, s.size());
    return;
  }
  // Cover s with alternating gaps and matches, then group them by behaviour (HF's
  // NormalizedString::split). "match" below is after `invert`.
  std::vector<Span> spans;
  while (re.find(s, prev, b, e)) {
    if (b > prev) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < s.size()) spans.push_back({prev, s.size(), invert});

  std::vector<Span> groups;
  bool prev_match = false;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const Span& sp : spans)
        if (!sp.match) groups.push_back(sp);
      break;
    case SplitBehavior::Isolated:
      groups = spans;
      break;
    case SplitBehavior::MergedWithPrevious:  // a match joins the non-match before it
      for (const Span& sp : spans) {
        if (sp.match && !prev_match && !groups.empty()) groups.back().end = sp.end;
        else groups.push_back(sp);
        prev_match = sp.match;
      }
      break;
    case SplitBehavior::MergedWithNext:  // a match joins the non-match after it
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->match && !prev_match && !groups.empty()) groups.back().begin = it->begin;
        else groups.push_back(*it);
        prev_match = it->match;
      }
      std::reverse(groups.begin(), groups.end());
      break;
    case SplitBehavior::Contiguous:  // runs of matches become one piece
      for (const Span& sp : spans) {
        if (sp.match == prev_match && !groups.empty()) groups.back().end = sp.end;
        else groups.push_back(sp);
        prev_match = sp.match;
      }
      break;
  }
  for (const Span& g : groups) emit(g.begin, g.end);
}

void PreTokenizer::parse_into(const nlohmann::json& j, const std::string& where, PreTokenizer& out) {
  if (j.is_null()) return;
  if (out.byte_level_)
    fail(where, "a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)");
  const std::string type = j.value("type", "");
  auto regex_step = [&](const std::string& pattern, bool literal, SplitBehavior b, bool invert) {
    Step st{Kind::Split};
    st.regex = std::make_shared<Regex>(pattern, literal, where);
    st.behavior = b;
    st.invert = invert;
    out.steps_.push_back(std::move(st));
  };
  if (type == "Sequence") {
    for (const auto& p : j.at("pretokenizers")) parse_into(p, where, out);
  } else if (type == "Split") {
    static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
        {"Removed", SplitBehavior::Removed},
        {"Isolated", SplitBehavior::Isolated},
        {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
        {"MergedWithNext", SplitBehavior::MergedWithNext},
        {"Contiguous", SplitBehavior::Contiguous}};
    const std::string name = j.at("behavior").get<std::string>();
    auto it = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                           [&](const auto& kv) { return name == kv.first; });
    if (it == std::end(kBehaviors)) fail(where, "Split behavior '{}' is not supported", name);
    const auto& p = j.at("pattern");
    const bool literal = p.contains("String");
    regex_step(p.at(literal ? "String" : "Regex").get<std::string>(), literal, it->second,
               j.value("invert", false));
  } else if (type == "ByteLevel") {
    if (j.value("add_prefix_space", true)) out.steps_.push_back(Step{Kind::PrefixSpace});
    if (j.value("use_regex", true)) regex_step(kGpt2Pattern, false, SplitBehavior::Isolated, false);
    out.byte_level_ = true;
  } else if (type == "Metaspace") {
    Step st{Kind::Metaspace};
    st.replacement = j.value("replacement", "\xE2\x96\x81");  // "▁"
    st.split = j.value("split", true);
    if (j.contains("prepend_scheme")) {
      const std::string s = j.at("prepend_scheme").get<std::string>();
      if (s == "always") st.prepend = Step::Prepend::Always;
      else if (s == "first") st.prepend = Step::Prepend::First;
      else if (s == "never") st.prepend = Step::Prepend::Never;
      else fail(where, "Metaspace prepend_scheme '{}' is not supported", s);
    } else {  // older files: add_prefix_space
      st.prepend = j.value("add_prefix_space", true) ? Step::Prepend::Always : Step::Prepend::Never;
    }
    st.regex = std::make_shared<Regex>(st.replacement, true, where);  // the split delimiter
    out.steps_.push_back(std::move(st));
  } else if (type == "Digits") {
    regex_step(R"(\p{N})", false,
               j.value("individual_digits", false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false);
  } else if (type == "Whitespace") {
    regex_step(R"(\w+|[^\w\s]+)", false, SplitBehavior::Removed, true);
  } else if (type == "WhitespaceSplit") {
    regex_step(R"(\s+)", false, SplitBehavior::Removed, false);
  } else {
    fail(where, "pre-tokenizer type '{}' is not supported", type);
  }
}

PreTokenizer PreTokenizer::parse(const nlohmann::json& j, const std::string& where) {
  PreTokenizer p;
  parse_into(j, where, p);
  return p;
}

void PreTokenizer::apply_from(size_t i, const Piece& p, PieceStore& store, PieceSink out) const {
  if (p.text.empty()) return;
  if (i == steps_.size()) return out(p);
  auto next = [&](const Piece& q) { apply_from(i + 1, q, store, out); };
  const Step& st = steps_[i];
  switch (st.kind) {
    case Kind::Split:
      split_pieces(*st.regex, st.behavior, st.invert, p, next);
      return;
    case Kind::PrefixSpace:  // ByteLevel add_prefix_space: every piece starts with a space
      if (p.text[0] == ' ') return next(p);
      store.push_back(" ");
      store.back() += p.text;
      return next({store.back(), p.at_start});
    case Kind::Metaspace: {
      // Spaces become the replacement ("▁"), one is prepended per prepend_scheme, then each
      // "▁" starts a new word ("▁Hey▁friend" -> "▁Hey", "▁friend").
      std::string s;
      s.reserve(p.text.size() + st.replacement.size());
      for (char c : p.text) {
        if (c == ' ') s += st.replacement;
        else s += c;
      }
      const bool starts = s.compare(0, st.replacement.size(), st.replacement) == 0;
      if (!starts && (st.prepend == Step::Prepend::Always ||
                      (st.prepend == Step::Prepend::First && p.at_start)))
        s.insert(0, st.replacement);
      store.push_back(std::move(s));
      const Piece whole{store.back(), p.at_start};
      if (!st.split) return next(whole);
      return split_pieces(*st.regex, SplitBehavior::MergedWithNext, false, whole, next);
    }
  }
}

void PreTokenizer::run(std::string_view text, bool at_start, PieceStore& store, PieceSink out) const {
  apply_from(0, {text, at_start}, store, out);
}

}  // namespace hyb::tok
