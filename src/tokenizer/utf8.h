// utf8: the few UTF-8 operations the tokenizer needs, on raw bytes (std::string_view).
// Input text may hold invalid UTF-8 (a binary file, a cut string): every function here treats a
// byte that does not start a well-formed sequence as a one-byte "character" instead of failing,
// so byte-level and byte-fallback models still see, and give back, every byte.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace hyb::tok {

// Length of the well-formed sequence starting at s[i] (1..4), or 0 if s[i] starts none.
// Well-formed per Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF.
inline size_t utf8_seq_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  const size_t left = s.size() - i;
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  auto cont = [&](size_t k, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return k < left && b(k) >= lo && b(k) <= hi;
  };
  if (c < 0xE0) return cont(1) ? 2 : 0;
  if (c < 0xF0) {
    const uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c < 0xF5) {
    const uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Bytes of the "character" at s[i]: a well-formed sequence, or a single invalid byte.
inline size_t utf8_char_len(std::string_view s, size_t i) {
  const size_t n = utf8_seq_len(s, i);
  return n ? n : 1;
}

// Code point of the well-formed sequence at s[i] of length n (from utf8_seq_len).
inline uint32_t utf8_decode(std::string_view s, size_t i, size_t n) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(s[i + k])); };
  switch (n) {
    case 1: return b(0);
    case 2: return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    case 3: return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    default: return (b(0) & 0x07) << 18 | (b(1) & 0x3F) << 12 | (b(2) & 0x3F) << 6 | (b(3) & 0x3F);
  }
}

inline void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Unicode White_Space (Rust's char::is_whitespace, regex \s).
inline bool is_unicode_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

bool utf8_valid(std::string_view s);

// Rust's String::from_utf8_lossy (what HF decoders use): each maximal ill-formed subpart becomes
// one U+FFFD. A truncated but otherwise valid prefix of a sequence (E2 82) is one subpart.
std::string utf8_lossy(std::string_view s);

}  // namespace hyb::tok
