#include "eval/template.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>

#include "eval/text.h"
#include "util/error.h"

namespace hyb::eval {

using json = nlohmann::json;

std::string hellaswag_preprocess(const std::string& text) {
  std::string t = py_strip(text);
  t = replace_all(t, " [title]", ". ");
  t = remove_bracketed(t);
  return replace_all(t, "  ", " ");
}

std::vector<std::string> mathqa_options(const std::string& s) {
  // re.findall scans left to right; at each position it tries "[abcd] ) <shortest>, " and
  // then "e ) <rest of the line>", else moves one character on.
  std::vector<std::string> out;
  auto label_at = [&](size_t i, const char* letters) {
    return i + 4 <= s.size() && std::string_view(letters).find(s[i]) != std::string_view::npos &&
           s.compare(i + 1, 3, " ) ") == 0;
  };
  size_t i = 0;
  while (i < s.size()) {
    if (label_at(i, "abcd")) {
      const size_t comma = s.find(", ", i + 4), nl = s.find('\n', i + 4);
      if (comma != std::string::npos && (nl == std::string::npos || comma < nl)) {
        out.push_back(rstrip_chars(s.substr(i + 4, comma + 2 - (i + 4)), " ,"));
        i = comma + 2;
        continue;
      }
    }
    if (label_at(i, "e")) {
      size_t end = s.size();
      if (end > 0 && s[end - 1] == '\n') --end;  // '$' also matches before a final newline
      if (s.find('\n', i) >= end) {
        out.push_back(rstrip_chars(s.substr(i + 4, end - (i + 4)), " ,"));
        i = s.size();
        continue;
      }
    }
    ++i;
  }
  return out;
}

std::optional<int64_t> digits_value(const std::string& s, const Doc& doc) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE) fail(doc.where, "index '{}' is too large", s);
  return v;
}

namespace {

using Filter = std::function<json(const json& v, const std::string& arg, const Doc& doc)>;

std::string as_text(const json& v, const Doc& doc, const std::string& expr) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";  // Python's str(bool)
  if (v.is_number()) return v.dump();
  fail(doc.where, "'{}' is a {}, not text", expr, v.type_name());
}

int64_t as_int(const json& v, const Doc& doc, const std::string& expr) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_string()) {
    if (const auto i = digits_value(py_strip(v.get<std::string>()), doc)) return *i;
  }
  fail(doc.where, "'{}' = {} is not an integer", expr, v.dump());
}

// A string filter, applied to each element of a list.
Filter text_filter(std::function<std::string(const std::string&, const std::string&)> f) {
  return [f](const json& v, const std::string& arg, const Doc& doc) -> json {
    if (v.is_array()) {
      json out = json::array();
      for (const auto& e : v) out.push_back(f(as_text(e, doc, "list element"), arg));
      return out;
    }
    return f(as_text(v, doc, "value"), arg);
  };
}

std::string before(const std::string& s, const std::string& x) { return s.substr(0, s.find(x)); }

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> f = {
      {"strip", text_filter([](const std::string& s, const std::string&) { return py_strip(s); })},
      {"lstrip", text_filter([](const std::string& s, const std::string&) { return py_lstrip(s); })},
      {"rstrip", text_filter([](const std::string& s, const std::string&) { return py_rstrip(s); })},
      {"capitalize", text_filter([](const std::string& s, const std::string&) { return py_capitalize(s); })},
      {"hellaswag", text_filter([](const std::string& s, const std::string&) { return hellaswag_preprocess(s); })},
      {"underscores_to_spaces",
       text_filter([](const std::string& s, const std::string&) { return replace_all(s, "_", " "); })},
      {"before", text_filter([](const std::string& s, const std::string& x) { return before(s, x); })},
      {"after", text_filter([](const std::string& s, const std::string& x) {
         const size_t i = s.find(x);
         return i == std::string::npos ? std::string() : s.substr(i + x.size());
       })},
      {"drop_last_word", text_filter([](const std::string& s, const std::string&) {
         auto w = split(s, " ");
         w.pop_back();
         return join(w, " ");
       })},
      {"last_word", text_filter([](const std::string& s, const std::string&) { return split(s, " ").back(); })},
      {"join",
       [](const json& v, const std::string& sep, const Doc& doc) -> json {
         if (!v.is_array()) fail(doc.where, "join: expected a list, got {}", v.type_name());
         std::vector<std::string> parts;
         for (const auto& e : v) parts.push_back(as_text(e, doc, "list element"));
         return join(parts, sep);
       }},
      {"index_of",
       [](const json& v, const std::string& field, const Doc& doc) -> json {
         const std::string key = py_strip(as_text(evaluate(field, doc), doc, field));
         if (v.is_array())
           for (size_t i = 0; i < v.size(); ++i)
             if (v[i].is_string() && v[i].get<std::string>() == key) return static_cast<int64_t>(i);
         fail(doc.where, "'{}' = \"{}\" is not in {}", field, key, v.dump());
       }},
      {"letter_index",
       [](const json& v, const std::string&, const Doc& doc) -> json {
         const std::string s = py_strip(as_text(v, doc, "letter"));
         if (s.size() != 1 || !std::isalpha(static_cast<unsigned char>(s[0])))
           fail(doc.where, "'{}' is not an answer letter", s);
         return static_cast<int64_t>(std::tolower(static_cast<unsigned char>(s[0])) - 'a');
       }},
      {"minus1", [](const json& v, const std::string&, const Doc& doc) -> json { return as_int(v, doc, "value") - 1; }},
      {"mathqa_options",
       [](const json& v, const std::string&, const Doc& doc) -> json {
         return mathqa_options(as_text(v, doc, "options"));
       }},
  };
  return f;
}

json lookup(const std::string& path, const Doc& doc) {
  const json* cur = &doc.fields;
  for (const auto& seg : split(path, ".")) {
    const bool index = !seg.empty() && seg.find_first_not_of("0123456789") == std::string::npos;
    if (index && cur->is_array()) {
      const size_t i = std::stoul(seg);
      if (i >= cur->size()) fail(doc.where, "'{}': index {} past the {} elements", path, i, cur->size());
      cur = &(*cur)[i];
    } else if (cur->is_object() && cur->contains(seg)) {
      cur = &(*cur)[seg];
    } else {
      fail(doc.where, "field '{}' not found (needed for '{}')", seg, path);
    }
  }
  return *cur;
}

}  // namespace

json evaluate(const std::string& expr, const Doc& doc) {
  auto parts = split(expr, "|");
  json v = lookup(parts[0], doc);
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t colon = parts[i].find(':');
    const std::string name = parts[i].substr(0, colon);
    const std::string arg = colon == std::string::npos ? "" : parts[i].substr(colon + 1);
    auto it = filters().find(name);
    if (it == filters().end()) fail(doc.where, "unknown template filter '{}' in '{}'", name, expr);
    v = it->second(v, arg, doc);
  }
  return v;
}

std::string render(const std::string& tmpl, const Doc& doc) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out.push_back(c);
      ++i;
    } else if (c == '{') {
      const size_t close = tmpl.find('}', i);
      if (close == std::string::npos) fail(doc.where, "unclosed '{{' in template '{}'", tmpl);
      const std::string expr = tmpl.substr(i + 1, close - i - 1);
      out += as_text(evaluate(expr, doc), doc, expr);
      i = close;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace hyb::eval
