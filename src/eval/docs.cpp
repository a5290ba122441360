#include "eval/docs.h"

#include <bzlib.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "eval/text.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace hyb::eval {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_bz2(const fs::path& file) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) fail(file.string(), "cannot open");
  int err = BZ_OK;
  BZFILE* bz = BZ2_bzReadOpen(&err, f.get(), 0, 0, nullptr, 0);
  if (err != BZ_OK) fail(file.string(), "not a bzip2 file (libbz2 error {})", err);
  std::string out;
  char buf[1 << 16];
  while (err == BZ_OK) {
    const int n = BZ2_bzRead(&err, bz, buf, sizeof(buf));
    if (err == BZ_OK || err == BZ_STREAM_END) out.append(buf, static_cast<size_t>(n));
  }
  BZ2_bzReadClose(nullptr, bz);
  if (err != BZ_STREAM_END) fail(file.string(), "corrupt bzip2 data (libbz2 error {})", err);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  auto lines = split(text, "\n");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  return lines;
}

std::string loc(const fs::path& file, size_t line) { return file.string() + ":" + std::to_string(line); }

std::vector<Doc> read_jsonl(const fs::path& file, const std::string& text, int64_t limit) {
  std::vector<Doc> docs;
  auto lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (py_strip(lines[i]).empty()) continue;
    Doc d;
    d.where = loc(file, i + 1);
    d.fields = parse_json(lines[i], d.where);
    if (!d.fields.is_object()) fail(d.where, "expected a JSON object, got {}", d.fields.type_name());
    docs.push_back(std::move(d));
    if (limit > 0 && static_cast<int64_t>(docs.size()) >= limit) break;
  }
  return docs;
}

std::vector<Doc> read_hellaswag_text(const fs::path& file, const std::string& text, int64_t limit) {
  auto lines = lines_of(text);
  if (lines.size() % 6 != 0)
    fail(file.string(), "{} lines: llama.cpp's HellaSwag format has 6 lines per item", lines.size());
  std::vector<Doc> docs;
  for (size_t i = 0; i < lines.size(); i += 6) {
    if (limit > 0 && static_cast<int64_t>(docs.size()) >= limit) break;
    docs.push_back(hellaswag_doc(lines[i], lines[i + 1], {lines.begin() + i + 2, lines.begin() + i + 6},
                                 loc(file, i + 1)));
  }
  return docs;
}

}  // namespace

std::string read_text_file(const fs::path& file) {
  if (ends_with(file.string(), ".bz2")) {
    require_regular_file(file);
    return read_bz2(file);
  }
  return read_file(file);
}

std::vector<Doc> read_docs(const fs::path& file, int64_t limit) {
  std::string name = file.filename().string();
  if (ends_with(name, ".bz2")) name.resize(name.size() - 4);
  const std::string text = read_text_file(file);
  std::vector<Doc> docs;
  if (ends_with(name, ".jsonl")) docs = read_jsonl(file, text, limit);
  else if (ends_with(name, "_llamacpp_format.txt")) docs = read_hellaswag_text(file, text, limit);
  else fail(file.string(), "unknown task file format (expected .jsonl or llama.cpp's *_llamacpp_format.txt[.bz2])");
  // An empty task would score "acc 0.0000 over 0 documents" with exit code 0.
  if (docs.empty()) fail(file.string(), "no documents (expected one JSON object per line)");
  return docs;
}

Doc hellaswag_doc(const std::string& ctx_line, const std::string& label, const std::vector<std::string>& endings,
                  const std::string& where) {
  const size_t colon = ctx_line.find(": ");
  if (colon == std::string::npos) fail(where, "expected 'activity label: context', got '{}'", ctx_line);
  const std::string ctx = ctx_line.substr(colon + 2);
  std::string ctx_a = ctx, ctx_b;
  const size_t dot = ctx.rfind(". ");
  if (dot != std::string::npos && dot + 2 < ctx.size() && ctx[dot + 2] >= 'a' && ctx[dot + 2] <= 'z') {
    ctx_a = ctx.substr(0, dot + 1);
    ctx_b = ctx.substr(dot + 2);
  }
  const std::string gold = py_strip(label);
  if (gold.size() != 1 || gold[0] < '0' || gold[0] > '3') fail(where, "gold line '{}' is not 0..3", label);
  Doc d;
  d.where = where;
  d.fields = {{"activity_label", ctx_line.substr(0, colon)},
              {"ctx_a", ctx_a},
              {"ctx_b", ctx_b},
              {"endings", endings},
              {"label", gold}};
  return d;
}

}  // namespace hyb::eval
