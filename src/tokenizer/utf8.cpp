// utf8: validation and lossy repair (see utf8.h).
#include "tokenizer/utf8.h"

namespace hyb::tok {

namespace {

// Bytes at s[i] that begin a well-formed sequence, counted up to the first byte that breaks it:
// the whole sequence if it is well-formed, else its "maximal subpart" (at least 1 byte).
size_t subpart_len(std::string_view s, size_t i) {
  const uint8_t c = static_cast<uint8_t>(s[i]);
  size_t need;  // continuation bytes the lead byte asks for
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t k = 1;
  for (; k <= need && i + k < s.size(); ++k) {
    const uint8_t b = static_cast<uint8_t>(s[i + k]);
    if (b < lo || b > hi) break;
    lo = 0x80, hi = 0xBF;
  }
  return k;
}

}  // namespace

bool utf8_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) { ++i; continue; }
    const size_t n = utf8_seq_len(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

std::string utf8_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) { out += s[i++]; continue; }
    const size_t n = utf8_seq_len(s, i);
    if (n) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += kReplacementChar;
      i += subpart_len(s, i);
    }
  }
  return out;
}

}  // namespace hyb::tok
