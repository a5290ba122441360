// normalizer: parsing and applying the normalizer chain (see normalizer.h).
#include "tokenizer/normalizer.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <cstdlib>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hyb::tok {

namespace {

// Unicode normalization form via utf8proc. ASCII is invariant under every form, and no
// composition or reordering crosses the start of an ASCII character (it is a starter and never
// the second half of a composition), so only each non-ASCII run, with the one ASCII character
// before it (a possible base for combining marks), goes through utf8proc. Invalid UTF-8 is left
// as is: Rust strings cannot hold it, so HF has no behaviour to match, and keeping the bytes
// keeps them encodable.
void unicode_form(std::string& s, utf8proc_option_t form) {
  size_t i = 0;
  while (i < s.size() && static_cast<uint8_t>(s[i]) < 0x80) ++i;
  if (i == s.size()) return;
  std::string out(s, 0, i > 0 ? i - 1 : 0);
  while (i < s.size()) {
    const size_t b = i > 0 ? i - 1 : 0;  // chunk: [ASCII char before] + non-ASCII run
    size_t e = i;
    while (e < s.size() && static_cast<uint8_t>(s[e]) >= 0x80) ++e;
    utf8proc_uint8_t* mapped = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + b),
                                static_cast<utf8proc_ssize_t>(e - b), &mapped,
                                static_cast<utf8proc_option_t>(form | UTF8PROC_STABLE));
    if (n >= 0) out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
    else out.append(s, b, e - b);
    std::free(mapped);
    // Copy the ASCII run that follows, except its last character, which starts the next chunk.
    i = e;
    while (i < s.size() && static_cast<uint8_t>(s[i]) < 0x80) ++i;
    if (i == s.size()) out.append(s, e, i - e);
    else if (i - e > 1) out.append(s, e, i - e - 1);
  }
  s.swap(out);
}

void lowercase(std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_seq_len(s, i);
    if (!n) { out += s[i++]; continue; }
    utf8_append(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<int32_t>(utf8_decode(s, i, n)))));
    i += n;
  }
  s.swap(out);
}

void strip(std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  while (left && b < e) {
    const size_t n = utf8_seq_len(s, b);
    if (!n || !is_unicode_space(utf8_decode(s, b, n))) break;
    b += n;
  }
  while (right && e > b) {
    size_t k = e - 1;
    while (k > b && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80) --k;
    const size_t n = utf8_seq_len(s, k);
    if (n != e - k || !is_unicode_space(utf8_decode(s, k, n))) break;
    e = k;
  }
  s = s.substr(b, e - b);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty() || s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t k; (k = s.find(from, i)) != std::string::npos; i = k + from.size())
    out.append(s, i, k - i).append(to);
  out.append(s, i, std::string::npos);
  s.swap(out);
}

void replace_regex(std::string& s, const Regex& re, std::string_view to) {
  std::string out;
  size_t i = 0, b, e;
  while (re.find(s, i, b, e)) out.append(s, i, b - i).append(to), i = e;
  if (i == 0) return;
  out.append(s, i, std::string::npos);
  s.swap(out);
}

}  // namespace

void Normalizer::parse_into(const nlohmann::json& j, const std::string& where, std::vector<Step>& out) {
  if (j.is_null()) return;
  const std::string type = j.value("type", "");
  Step st{};
  if (type == "Sequence") {
    for (const auto& n : j.at("normalizers")) parse_into(n, where, out);
    return;
  } else if (type == "NFC") {
    st.kind = Kind::NFC;
  } else if (type == "NFD") {
    st.kind = Kind::NFD;
  } else if (type == "NFKC") {
    st.kind = Kind::NFKC;
  } else if (type == "NFKD") {
    st.kind = Kind::NFKD;
  } else if (type == "Lowercase") {
    st.kind = Kind::Lowercase;
  } else if (type == "Prepend") {
    st.kind = Kind::Prepend;
    st.text = j.at("prepend").get<std::string>();
  } else if (type == "Replace") {
    st.kind = Kind::Replace;
    const auto& p = j.at("pattern");
    st.content = j.at("content").get<std::string>();
    if (p.contains("String")) st.text = p.at("String").get<std::string>();
    else st.regex = std::make_shared<Regex>(p.at("Regex").get<std::string>(), false, where);
  } else if (type == "Strip") {
    st.kind = Kind::Strip;
    st.left = j.value("strip_left", true);
    st.right = j.value("strip_right", true);
  } else {
    fail(where, "normalizer type '{}' is not supported", type);
  }
  out.push_back(std::move(st));
}

Normalizer Normalizer::parse(const nlohmann::json& j, const std::string& where) {
  Normalizer n;
  parse_into(j, where, n.steps_);
  return n;
}

std::string_view Normalizer::apply(std::string_view in, std::string& buf) const {
  if (steps_.empty()) return in;
  buf.assign(in);
  for (const Step& st : steps_) {
    switch (st.kind) {
      case Kind::NFC: unicode_form(buf, UTF8PROC_COMPOSE); break;
      case Kind::NFD: unicode_form(buf, UTF8PROC_DECOMPOSE); break;
      case Kind::NFKC: unicode_form(buf, static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT)); break;
      case Kind::NFKD: unicode_form(buf, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT)); break;
      case Kind::Lowercase: lowercase(buf); break;
      case Kind::Prepend:
        if (!buf.empty()) buf.insert(0, st.text);
        break;
      case Kind::Replace:
        if (st.regex) replace_regex(buf, *st.regex, st.content);
        else replace_all(buf, st.text, st.content);
        break;
      case Kind::Strip: strip(buf, st.left, st.right); break;
    }
  }
  return buf;
}

}  // namespace hyb::tok
