#include "distill/data.h"

#include <fnmatch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;

DocTokenizer DocTokenizer::from(const Tokenizer& tok) {
  DocTokenizer d;
  d.encode = [&tok](std::string_view text) { return tok.encode(text, /*add_special=*/false); };
  if (tok.adds_bos()) d.bos = tok.bos_id();
  d.eos = tok.eos_id();
  return d;
}

// --------------------------------------------------------------------------------------------
// Globs

namespace {

bool has_wildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// Expands one pattern component by component: a literal component extends every candidate, a
// wildcard one is matched against each candidate directory's entries (sorted).
std::vector<fs::path> expand_one(const std::string& pattern) {
  fs::path p(pattern);
  std::vector<fs::path> cur{p.is_absolute() ? p.root_path() : fs::path()};
  for (const auto& comp : p.relative_path()) {
    const std::string c = comp.string();
    std::vector<fs::path> next;
    for (const auto& base : cur) {
      if (!has_wildcard(c)) {
        next.push_back(base / comp);
        continue;
      }
      const fs::path dir = base.empty() ? fs::path(".") : base;
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      std::vector<fs::path> hits;
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name[0] == '.' && c[0] != '.') continue;  // shell rule: * does not match dotfiles
        if (fnmatch(c.c_str(), name.c_str(), 0) == 0) hits.push_back(base / name);
      }
      std::sort(hits.begin(), hits.end());
      next.insert(next.end(), hits.begin(), hits.end());
    }
    cur = std::move(next);
  }
  std::vector<fs::path> files;
  for (const auto& f : cur)
    if (fs::is_regular_file(f)) files.push_back(f);
  return files;
}

}  // namespace

std::vector<fs::path> expand_data_paths(const std::vector<std::string>& patterns) {
  std::vector<fs::path> out;
  std::set<fs::path> seen;
  for (const auto& pat : patterns) {
    auto files = expand_one(pat);
    if (files.empty()) fail(pat, has_wildcard(pat) ? "matches no file" : "data file not found");
    for (auto& f : files)
      if (seen.insert(f).second) out.push_back(f);
  }
  return out;
}

// --------------------------------------------------------------------------------------------
// Documents

DocumentReader::DocumentReader(std::vector<fs::path> files) : files_(std::move(files)) {}

std::string DocumentReader::where() const {
  if (file_ == 0) return "data";
  return files_[file_ - 1].string() + ":" + std::to_string(line_);
}

bool DocumentReader::open_next_file() {
  if (file_ >= files_.size()) return false;
  const fs::path& f = files_[file_++];
  require_regular_file(f);
  in_ = std::ifstream(f, std::ios::binary);
  if (!in_) fail(f.string(), "cannot open data file");
  const std::string ext = f.extension().string();
  jsonl_ = ext == ".jsonl";  // anything else is plain text (.txt, .raw, ...)
  line_ = 0;
  return true;
}

bool DocumentReader::next(std::string& doc) {
  std::string line;
  doc.clear();
  for (;;) {
    if (file_ == 0 || !in_.is_open()) {
      if (!open_next_file()) return false;
    }
    if (!std::getline(in_, line)) {  // end of this file ends its last document
      in_.close();
      if (!doc.empty()) return true;
      continue;
    }
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files (wikitext)
    if (jsonl_) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      const nlohmann::json j = parse_json(line, where());
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        fail(where(), "JSON line has no string field \"text\"");
      doc = j["text"].get<std::string>();
      if (!doc.empty()) return true;
      continue;
    }
    // Plain text: a blank (or whitespace-only) line ends the document; lines join with '\n'.
    if (line.find_first_not_of(" \t\f\v") == std::string::npos) {
      if (!doc.empty()) return true;
      continue;
    }
    if (!doc.empty()) doc += '\n';
    doc += line;
  }
}

// --------------------------------------------------------------------------------------------
// Packing

SequenceStream::SequenceStream(std::vector<fs::path> files, DocTokenizer tok, PackOptions opt)
    : files_(std::move(files)), tok_(std::move(tok)), opt_(opt) {
  if (opt_.seq_len < 2) fail("--seq-len", "must be at least 2 (got {})", opt_.seq_len);
  if (opt_.held_out < 0) fail("--eval-sequences", "must not be negative");
  reader_.emplace(files_);
  for (int64_t i = 0; i < opt_.held_out; ++i) {
    std::vector<int32_t> s;
    if (!pack(s)) {
      if (opt_.allow_fewer_held_out) break;
      fail(files_.empty() ? "data" : files_[0].string(),
           "the data holds only {} sequences of {} tokens, fewer than the {} held out", i, opt_.seq_len,
           opt_.held_out);
    }
    held_out_.push_back(std::move(s));
  }
}

bool SequenceStream::pack(std::vector<int32_t>& out) {
  const size_t T = static_cast<size_t>(opt_.seq_len);
  std::string doc;
  while (buffer_.size() - buffer_pos_ < T) {
    if (!reader_->next(doc)) return false;
    ++documents_;
    // Compact before appending so the buffer holds at most one sequence plus one document.
    buffer_.erase(buffer_.begin(), buffer_.begin() + buffer_pos_);
    buffer_pos_ = 0;
    const size_t start = buffer_.size();
    if (tok_.bos) buffer_.push_back(*tok_.bos);
    auto ids = tok_.encode(doc);
    buffer_.insert(buffer_.end(), ids.begin(), ids.end());
    if (tok_.eos) buffer_.push_back(*tok_.eos);
    if (opt_.vocab_size > 0) {  // every id indexes the embedding: BOS and EOS included
      for (size_t i = start; i < buffer_.size(); ++i) {
        int32_t& id = buffer_[i];
        if (id >= 0 && id < opt_.vocab_size) continue;
        if (!opt_.fold_vocab || id < 0)
          fail(reader_->where(), "token id {} is outside the model's vocabulary of {} (wrong --tokenizer?)", id,
               opt_.vocab_size);
        id = static_cast<int32_t>(id % opt_.vocab_size);
      }
    }
  }
  out.assign(buffer_.begin() + buffer_pos_, buffer_.begin() + buffer_pos_ + T);
  buffer_pos_ += T;
  ++pass_sequences_;
  return true;
}

void SequenceStream::restart() {
  if (pass_sequences_ <= opt_.held_out)
    fail(files_.empty() ? "data" : files_[0].string(),
         "the data holds {} sequences of {} tokens, all of them held out: nothing to train on",
         pass_sequences_, opt_.seq_len);
  reader_.emplace(files_);
  buffer_.clear();
  buffer_pos_ = 0;
  pass_sequences_ = 0;
  documents_ = 0;
  ++epoch_;
  std::vector<int32_t> s;
  for (int64_t i = 0; i < opt_.held_out; ++i) pack(s);  // same files, same tokens: the held-out ones
}

std::vector<int32_t> SequenceStream::next() {
  std::vector<int32_t> s;
  if (!pack(s)) {
    restart();
    if (!pack(s)) fail(files_.empty() ? "data" : files_[0].string(), "no training sequence in the data");
  }
  ++consumed_;
  return s;
}

void SequenceStream::skip(int64_t n) {
  for (int64_t i = 0; i < n; ++i) next();
}

}  // namespace hyb
