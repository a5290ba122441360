// added_tokens: finding added tokens in text (see added_tokens.h).
#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>

#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace hyb::tok {

namespace {

// Rust regex \w: letters, marks, decimal digits, connector punctuation (_), letter numbers.
bool is_word_cp(uint32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Start of the character that ends at byte `end` (exclusive), or end if none.
size_t prev_char(std::string_view s, size_t end) {
  if (end == 0) return 0;
  size_t k = end - 1;
  while (k > 0 && end - k < 4 && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80) --k;
  return utf8_seq_len(s, k) == end - k ? k : end - 1;
}

// Code point of the character at [b, e), or 0xFFFFFFFF for an invalid byte.
uint32_t cp_at(std::string_view s, size_t b, size_t e) {
  const size_t n = utf8_seq_len(s, b);
  return n == e - b && n ? utf8_decode(s, b, n) : 0xFFFFFFFFu;
}

bool ends_with_word(std::string_view s, size_t end) {
  if (end == 0) return false;
  const size_t b = prev_char(s, end);
  return is_word_cp(cp_at(s, b, end));
}

bool starts_with_word(std::string_view s, size_t begin) {
  if (begin >= s.size()) return false;
  return is_word_cp(cp_at(s, begin, begin + utf8_char_len(s, begin)));
}

}  // namespace

void AddedVocab::build_matcher(Matcher& m) {
  for (auto& v : m.by_first) v.clear();
  for (uint32_t i = 0; i < m.patterns.size(); ++i)
    if (!m.patterns[i].empty()) m.by_first[static_cast<uint8_t>(m.patterns[i][0])].push_back(i);
  for (auto& v : m.by_first)
    std::stable_sort(v.begin(), v.end(), [&](uint32_t a, uint32_t b) {
      return m.patterns[a].size() > m.patterns[b].size();
    });
}

void AddedVocab::build(std::vector<AddedToken> tokens, const Normalizer& normalizer) {
  tokens_ = std::move(tokens);
  raw_ = Matcher{};
  norm_ = Matcher{};
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.content.empty()) continue;
    Matcher& m = t.normalized ? norm_ : raw_;
    std::string buf;
    m.patterns.emplace_back(t.normalized ? std::string(normalizer.apply(t.content, buf)) : t.content);
    m.token.push_back(i);
  }
  build_matcher(raw_);
  build_matcher(norm_);
}

void AddedVocab::split(std::string_view s, bool normalized, std::vector<Segment>& out) const {
  const Matcher& m = normalized ? norm_ : raw_;
  size_t emitted = 0;  // end of the last segment pushed
  size_t i = 0;
  while (i < s.size() && !m.empty()) {
    const auto& cands = m.by_first[static_cast<uint8_t>(s[i])];
    const uint32_t* hit = nullptr;
    for (const uint32_t& c : cands) {  // longest first: the first hit is leftmost-longest
      const std::string& p = m.patterns[c];
      if (p.size() <= s.size() - i && std::memcmp(s.data() + i, p.data(), p.size()) == 0) {
        hit = &c;
        break;
      }
    }
    if (!hit) { ++i; continue; }
    const AddedToken& t = tokens_[m.token[*hit]];
    size_t start = i, stop = i + m.patterns[*hit].size();
    i = stop;  // like HF's match iterator, a rejected match is not searched again inside
    if (t.single_word && (ends_with_word(s, start) || starts_with_word(s, stop))) continue;
    if (t.lstrip) {  // absorb whitespace before, but not into the previous segment
      while (start > emitted) {
        const size_t b = prev_char(s, start);
        if (!is_unicode_space(cp_at(s, b, start))) break;
        start = b;
      }
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        const size_t n = utf8_char_len(s, stop);
        if (!is_unicode_space(cp_at(s, stop, stop + n))) break;
        stop += n;
      }
      i = stop;
    }
    if (start > emitted) out.push_back({emitted, start, -1});
    out.push_back({start, stop, t.id});
    emitted = stop;
  }
  if (emitted < s.size()) out.push_back({emitted, s.size(), -1});
}

}  // namespace hyb::tok
