#include "eval/text.h"

#include <cstdint>

namespace hyb::eval {

namespace {

// Python's str.isspace(): the characters with Unicode White_Space or bidi class B/S/WS.
bool is_py_space(uint32_t c) {
  if (c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return true;
  if (c < 0x80) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// The code point starting at s[i] and its byte length (invalid bytes count as one U+FFFD).
uint32_t decode_at(std::string_view s, size_t i, size_t* len) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *len = 1;
    return 0xFFFD;
  }
  uint32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if (!is_cont(static_cast<unsigned char>(s[i + k]))) {
      *len = 1;
      return 0xFFFD;
    }
    c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  }
  *len = n;
  return c;
}

// Byte offset where leading whitespace ends.
size_t lead_end(std::string_view s) {
  size_t i = 0, n = 0;
  while (i < s.size() && is_py_space(decode_at(s, i, &n))) i += n;
  return i;
}

// Byte offset where trailing whitespace begins.
size_t trail_begin(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && end - start < 4 && is_cont(static_cast<unsigned char>(s[start]))) --start;
    size_t n = 0;
    const uint32_t c = decode_at(s, start, &n);
    if (start + n != end || !is_py_space(c)) break;
    end = start;
  }
  return end;
}

}  // namespace

std::string py_lstrip(std::string_view s) { return std::string(s.substr(lead_end(s))); }
std::string py_rstrip(std::string_view s) { return std::string(s.substr(0, trail_begin(s))); }
std::string py_strip(std::string_view s) { return py_lstrip(py_rstrip(s)); }

std::string rstrip_chars(std::string_view s, std::string_view chars) {
  size_t end = s.size();
  while (end > 0 && chars.find(s[end - 1]) != std::string_view::npos) --end;
  return std::string(s.substr(0, end));
}

std::string strip_chars(std::string_view s, std::string_view chars) {
  size_t b = 0;
  while (b < s.size() && chars.find(s[b]) != std::string_view::npos) ++b;
  return rstrip_chars(s.substr(b), chars);
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    decode_at(s, i, &len);
    i += len;
    ++n;
  }
  return n;
}

std::string py_capitalize(std::string_view s) {
  std::string r(s);
  for (size_t i = 0; i < r.size(); ++i) {
    char& c = r[i];
    if (i == 0 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    else if (i > 0 && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string r;
  size_t i = 0;
  for (size_t j; (j = s.find(from, i)) != std::string_view::npos; i = j + from.size()) {
    r.append(s.substr(i, j - i));
    r.append(to);
  }
  r.append(s.substr(i));
  return r;
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  size_t i = 0;
  for (size_t j; (j = s.find(sep, i)) != std::string_view::npos; i = j + sep.size())
    parts.emplace_back(s.substr(i, j - i));
  parts.emplace_back(s.substr(i));
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string r;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) r.append(sep);
    r.append(parts[i]);
  }
  return r;
}

std::string remove_bracketed(std::string_view s) {
  // Left to right like re.sub: at each '[' take the nearest ']' unless a newline comes first
  // ('.' does not match a newline), in which case the '[' stays and the scan moves on.
  std::string r;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i + 1), nl = s.find('\n', i + 1);
      if (close != std::string_view::npos && (nl == std::string_view::npos || close < nl)) {
        i = close + 1;
        continue;
      }
    }
    r.push_back(s[i++]);
  }
  return r;
}

}  // namespace hyb::eval
