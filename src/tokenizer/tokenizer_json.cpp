// tokenizer_json: Tokenizer::load, reading tokenizer.json (+ tokenizer_config.json) into the
// parts of impl.h. Every malformed input throws hyb::Error naming the file.
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "tokenizer/impl.h"
#include "util/error.h"

namespace hyb {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail(path.string(), "invalid JSON: {}", e.what());
  }
}

// One merge: "a b" (Qwen2, older files) or ["a", "b"] (Llama-3, newer files).
std::pair<std::string, std::string> merge_pair(const json& m, const std::string& where, size_t rank) {
  if (m.is_array() && m.size() == 2) return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t sp = s.find(' ');
    if (sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos)
      return {s.substr(0, sp), s.substr(sp + 1)};
  }
  fail(where, "merge #{} is neither \"a b\" nor [\"a\", \"b\"]: {}", rank, m.dump());
}

void load_model(const json& model, const std::string& where, tok::BpeModel& bpe) {
  if (!model.is_object()) fail(where, "\"model\" is missing");
  // Files written without "type" are BPE when they carry merges (HF's untagged fallback).
  const std::string type = model.contains("type") ? model.at("type").get<std::string>()
                           : model.contains("merges") ? "BPE" : "";
  if (type != "BPE") fail(where, "model type '{}' is not supported (only BPE)", type);
  if (!model.contains("vocab") || !model.at("vocab").is_object()) fail(where, "model.vocab is missing");
  if (!model.contains("merges") || !model.at("merges").is_array()) fail(where, "model.merges is missing");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(k) && !model.at(k).is_null() && !model.at(k).get<std::string>().empty())
      fail(where, "BPE with {} is not supported", k);

  const json& vocab = model.at("vocab");
  bpe.piece_to_id.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > (1 << 30)) fail(where, "vocab id {} of '{}' is out of range", id, it.key());
    bpe.piece_to_id.emplace(it.key(), static_cast<int32_t>(id));
    if (bpe.id_to_piece.size() <= static_cast<size_t>(id)) bpe.id_to_piece.resize(id + 1);
    bpe.id_to_piece[id] = it.key();
  }

  const json& merges = model.at("merges");
  bpe.merges.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [a, b] = merge_pair(merges[rank], where, rank);
    auto ia = bpe.piece_to_id.find(a), ib = bpe.piece_to_id.find(b);
    joined = a + b;
    auto ij = bpe.piece_to_id.find(joined);
    if (ia == bpe.piece_to_id.end() || ib == bpe.piece_to_id.end() || ij == bpe.piece_to_id.end())
      fail(where, "merge #{} '{} {}' uses a token missing from the vocabulary", rank, a, b);
    bpe.merges.insert(ia->second, ib->second, static_cast<int32_t>(rank), ij->second);
  }

  bpe.ignore_merges = model.value("ignore_merges", false);
  bpe.byte_fallback = model.value("byte_fallback", false);
  bpe.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    auto it = bpe.piece_to_id.find(model.at("unk_token").get<std::string>());
    if (it == bpe.piece_to_id.end()) fail(where, "unk_token '{}' is not in the vocabulary", model.at("unk_token").get<std::string>());
    bpe.unk_id = it->second;
  }
}

std::vector<tok::AddedToken> load_added(const json& j, const std::string& where) {
  std::vector<tok::AddedToken> out;
  if (j.is_null()) return out;
  if (!j.is_array()) fail(where, "\"added_tokens\" is not a list");
  for (const json& a : j) {
    tok::AddedToken t;
    t.content = a.at("content").get<std::string>();
    t.id = a.at("id").get<int32_t>();
    if (t.id < 0) fail(where, "added token '{}' has a negative id", t.content);
    t.special = a.value("special", false);
    t.normalized = a.value("normalized", !t.special);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.single_word = a.value("single_word", false);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::optional<int32_t> Tokenizer::Impl::token_id(const std::string& piece) const {
  for (const auto& t : added.tokens())
    if (t.content == piece) return t.id;
  if (auto it = model.piece_to_id.find(piece); it != model.piece_to_id.end()) return it->second;
  return std::nullopt;
}

Tokenizer Tokenizer::load(const fs::path& dir_or_file) {
  const bool is_dir = fs::is_directory(dir_or_file);
  const fs::path file = is_dir ? dir_or_file / "tokenizer.json" : dir_or_file;
  const fs::path config = (is_dir ? dir_or_file : dir_or_file.parent_path()) / "tokenizer_config.json";
  const std::string where = file.string();
  if (!fs::exists(file)) fail(where, "file not found");

  auto impl = std::make_unique<Impl>();
  impl->source = where;
  const json j = read_json(file);
  if (!j.is_object()) fail(where, "not a tokenizer.json (top level is not an object)");
  try {
    load_model(j.contains("model") ? j.at("model") : json(), where, impl->model);
    auto null_or = [&](const char* k) { return j.contains(k) ? j.at(k) : json(); };
    impl->normalizer = tok::Normalizer::parse(null_or("normalizer"), where);
    impl->pre = tok::PreTokenizer::parse(null_or("pre_tokenizer"), where);
    impl->decoder = tok::Decoder::parse(null_or("decoder"), where);
    impl->model.byte_level = impl->pre.byte_level();
    impl->model.finish_setup();
    impl->added.build(load_added(null_or("added_tokens"), where), impl->normalizer);

    // id -> piece over the model and the added tokens (which win, as in HF's id_to_token).
    impl->pieces = impl->model.id_to_piece;
    for (const auto& t : impl->added.tokens())
      if (impl->pieces.size() <= static_cast<size_t>(t.id)) impl->pieces.resize(t.id + 1);
    impl->special.assign(impl->pieces.size(), 0);
    for (const auto& t : impl->added.tokens()) {
      impl->pieces[t.id] = t.content;
      impl->special[t.id] = t.special;
    }
    tok::parse_post_processor(null_or("post_processor"), where, *impl);
    for (int32_t id : impl->prefix)
      if (id < 0 || id >= impl->vocab_size()) fail(where, "post-processor id {} is outside the vocabulary", id);
    for (int32_t id : impl->suffix)
      if (id < 0 || id >= impl->vocab_size()) fail(where, "post-processor id {} is outside the vocabulary", id);
  } catch (const json::exception& e) {
    fail(where, "unexpected structure: {}", e.what());
  }

  const json cfg = fs::exists(config) ? read_json(config) : json::object();
  try {
    if (!cfg.is_object()) fail(config.string(), "top level is not an object");
    tok::apply_tokenizer_config(cfg, config.string(), *impl);
  } catch (const json::exception& e) {
    fail(config.string(), "unexpected structure: {}", e.what());
  }
  return Tokenizer(std::move(impl));
}

}  // namespace hyb
