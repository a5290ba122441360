// decoder: parsing and running the decoder chain (see decoder.h).
#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hyb::tok {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t k = 0; (k = s.find(from, k)) != std::string::npos; k += to.size()) s.replace(k, from.size(), to);
}

// "<0x0A>" -> 0x0A; -1 for any other token.
int byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

void Decoder::parse_into(const nlohmann::json& j, const std::string& where, Decoder& out) {
  if (j.is_null()) return;
  out.present_ = true;
  const std::string type = j.value("type", "");
  Step st{Kind::Fuse};
  if (type == "Sequence") {
    for (const auto& d : j.at("decoders")) parse_into(d, where, out);
    return;
  } else if (type == "ByteLevel") {
    st.kind = Kind::ByteLevel;
  } else if (type == "Replace") {
    st.kind = Kind::Replace;
    const auto& p = j.at("pattern");
    if (!p.contains("String")) fail(where, "decoder Replace with a Regex pattern is not supported");
    st.pattern = p.at("String").get<std::string>();
    st.content = j.at("content").get<std::string>();
  } else if (type == "ByteFallback") {
    st.kind = Kind::ByteFallback;
  } else if (type == "Fuse") {
    st.kind = Kind::Fuse;
  } else if (type == "Strip") {
    st.kind = Kind::Strip;
    st.content = j.at("content").get<std::string>();
    st.start = j.value("start", size_t{0});
    st.stop = j.value("stop", size_t{0});
  } else if (type == "Metaspace") {
    st.kind = Kind::Metaspace;
    st.content = j.value("replacement", "\xE2\x96\x81");
    if (j.contains("prepend_scheme")) st.prepend = j.at("prepend_scheme").get<std::string>() != "never";
    else st.prepend = j.value("add_prefix_space", true);
  } else {
    fail(where, "decoder type '{}' is not supported", type);
  }
  out.steps_.push_back(std::move(st));
}

Decoder Decoder::parse(const nlohmann::json& j, const std::string& where) {
  Decoder d;
  parse_into(j, where, d);
  return d;
}

void Decoder::apply(const Step& st, std::vector<std::string>& tokens) const {
  switch (st.kind) {
    case Kind::ByteLevel: {
      // Each token back to bytes through the GPT-2 table; a token with a character outside the
      // table (an added token holding a raw space or newline) is taken verbatim, as HF does.
      std::string bytes, one;
      for (const std::string& t : tokens) {
        if (pieces_to_bytes(t, one)) bytes += one;
        else bytes += t;
      }
      tokens.assign(1, utf8_lossy(bytes));
      return;
    }
    case Kind::Replace:
      for (std::string& t : tokens) replace_all(t, st.pattern, st.content);
      return;
    case Kind::ByteFallback: {
      // Runs of <0xNN> tokens become their bytes when those form valid UTF-8, else one U+FFFD
      // per byte token.
      std::vector<std::string> out;
      std::string run;
      size_t run_len = 0;
      auto flush = [&]() {
        if (!run_len) return;
        if (utf8_valid(run)) out.push_back(run);
        else
          for (size_t k = 0; k < run_len; ++k) out.emplace_back(kReplacementChar);
        run.clear();
        run_len = 0;
      };
      for (std::string& t : tokens) {
        const int b = byte_token(t);
        if (b >= 0) {
          run += static_cast<char>(b);
          ++run_len;
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      tokens.swap(out);
      return;
    }
    case Kind::Fuse: {
      std::string all;
      for (const std::string& t : tokens) all += t;
      tokens.assign(1, std::move(all));
      return;
    }
    case Kind::Strip: {
      const std::string& c = st.content;
      for (std::string& t : tokens) {
        if (c.empty()) continue;
        size_t b = 0, e = t.size();
        for (size_t k = 0; k < st.start && e - b >= c.size() && t.compare(b, c.size(), c) == 0; ++k) b += c.size();
        for (size_t k = 0; k < st.stop && e - b >= c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k) e -= c.size();
        t = t.substr(b, e - b);
      }
      return;
    }
    case Kind::Metaspace: {
      // "▁" becomes a space, except that in the first token it is dropped (the prepended one).
      for (size_t i = 0; i < tokens.size(); ++i) {
        std::string& t = tokens[i];
        std::string out;
        for (size_t k = 0; k < t.size();) {
          if (!st.content.empty() && t.compare(k, st.content.size(), st.content) == 0) {
            if (!(i == 0 && st.prepend)) out += ' ';
            k += st.content.size();
          } else {
            out += t[k++];
          }
        }
        t.swap(out);
      }
      return;
    }
  }
}

std::string Decoder::run(std::vector<std::string> tokens) const {
  std::string out;
  if (!present_) {  // HF without a decoder: tokens joined by spaces
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const Step& st : steps_) apply(st, tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace hyb::tok
