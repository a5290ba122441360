// tokenizer_json: Tokenizer::load, reading tokenizer.json (+ tokenizer_config.json) into the
// parts of impl.h. Every malformed input throws hyb::Error naming the file.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tokenizer/impl.h"
#include "tokenizer/json_reader.h"
#include "util/error.h"
#include "util/json.h"
#include "util/files.h"

namespace hyb {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// model.vocab and model.merges as they stream out of the file (json_reader.h).
struct Tables {
  tok::StringMap vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

void add_vocab(Tables& t, std::string& piece, int64_t id, const std::string& where) {
  if (id < 0 || id > (1 << 30)) fail(where, "vocab id {} of '{}' is out of range", id, piece);
  t.vocab.set(piece, static_cast<int32_t>(id));
}

// One merge: "a b" (Qwen2, older files) or ["a", "b"] (Llama-3, newer files).
void add_merge(Tables& t, std::string& left, std::string& right, bool pair, const std::string& where) {
  if (pair) {
    t.merges.emplace_back(std::move(left), std::move(right));
    return;
  }
  const size_t sp = left.find(' ');
  if (sp == std::string::npos || left.find(' ', sp + 1) != std::string::npos)
    fail(where, "merge #{} '{}' is not of the form \"a b\"", t.merges.size(), left);
  t.merges.emplace_back(left.substr(0, sp), left.substr(sp + 1));
}

void load_model(const json& model, Tables& tables, bool has_vocab, bool has_merges,
                const std::string& where, tok::BpeModel& bpe) {
  if (!model.is_object()) fail(where, "\"model\" is missing");
  // Files written without "type" are BPE when they carry merges (HF's untagged fallback).
  const std::string type = model.contains("type") ? model.at("type").get<std::string>()
                           : model.contains("merges") ? "BPE" : "";
  if (type != "BPE") fail(where, "model type '{}' is not supported (only BPE)", type);
  if (!has_vocab) fail(where, "model.vocab is missing");
  if (!has_merges) fail(where, "model.merges is missing");
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(k) && !model.at(k).is_null() && !model.at(k).get<std::string>().empty())
      fail(where, "BPE with {} is not supported", k);

  bpe.piece_to_id = std::move(tables.vocab);
  bpe.merges.reserve(tables.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < tables.merges.size(); ++rank) {
    const auto& [a, b] = tables.merges[rank];
    joined.assign(a).append(b);
    const int32_t ia = bpe.piece_to_id.get(a), ib = bpe.piece_to_id.get(b), ij = bpe.piece_to_id.get(joined);
    if (ia < 0 || ib < 0 || ij < 0)
      fail(where, "merge #{} '{} {}' uses a token missing from the vocabulary", rank, a, b);
    bpe.merges.insert(ia, ib, static_cast<int32_t>(rank), ij);
  }
  tables.merges = {};

  bpe.ignore_merges = model.value("ignore_merges", false);
  bpe.byte_fallback = model.value("byte_fallback", false);
  bpe.fuse_unk = model.value("fuse_unk", false);
  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    const std::string unk = model.at("unk_token").get<std::string>();
    bpe.unk_id = bpe.piece_to_id.get(unk);
    if (bpe.unk_id < 0) fail(where, "unk_token '{}' is not in the vocabulary", unk);
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
  const int32_t id = model.piece_to_id.get(piece);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

Tokenizer Tokenizer::load(const fs::path& dir_or_file) {
  const bool is_dir = fs::is_directory(dir_or_file);
  const fs::path file = is_dir ? dir_or_file / "tokenizer.json" : dir_or_file;
  const fs::path config = (is_dir ? dir_or_file : dir_or_file.parent_path()) / "tokenizer_config.json";
  const std::string where = file.string();
  if (!fs::exists(file)) fail(where, "file not found");

  auto impl = std::make_unique<Impl>();
  impl->source = where;
  Tables tables;
  tok::JsonTables callbacks;
  callbacks.on_vocab = [&](std::string& piece, int64_t id) { add_vocab(tables, piece, id, where); };
  callbacks.on_merge = [&](std::string& l, std::string& r, bool pair) { add_merge(tables, l, r, pair, where); };
  tok::JsonReadResult doc = tok::read_tokenizer_json(read_file(file), where, callbacks);
  const json& j = doc.tree;
  if (!j.is_object()) fail(where, "not a tokenizer.json (top level is not an object)");
  try {
    load_model(j.contains("model") ? j.at("model") : json(), tables, doc.has_vocab, doc.has_merges,
               where, impl->model);
    auto null_or = [&](const char* k) { return j.contains(k) ? j.at(k) : json(); };
    impl->normalizer = tok::Normalizer::parse(null_or("normalizer"), where);
    impl->pre = tok::PreTokenizer::parse(null_or("pre_tokenizer"), where);
    impl->decoder = tok::Decoder::parse(null_or("decoder"), where);
    impl->model.byte_level = impl->pre.byte_level();
    impl->model.finish_setup();
    impl->added.build(load_added(null_or("added_tokens"), where), impl->normalizer);

    // id -> piece over the model and the added tokens (which win, as in HF's id_to_token).
    int32_t max_id = -1;
    impl->model.piece_to_id.for_each([&](std::string_view, int32_t id) { max_id = std::max(max_id, id); });
    for (const auto& t : impl->added.tokens()) max_id = std::max(max_id, t.id);
    // Ids index a table: a corrupt file with a huge id must not make it huge.
    const size_t entries = impl->model.piece_to_id.size() + impl->added.tokens().size();
    if (static_cast<size_t>(max_id) >= 2 * entries + 1024)
      fail(where, "token id {} is far beyond the {} tokens defined", max_id, entries);
    impl->pieces.assign(static_cast<size_t>(max_id + 1), std::string());
    impl->model.piece_to_id.for_each([&](std::string_view piece, int32_t id) { impl->pieces[id] = piece; });
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

  const json cfg = fs::exists(config) ? read_json_file(config) : json::object();
  try {
    if (!cfg.is_object()) fail(config.string(), "top level is not an object");
    tok::apply_tokenizer_config(cfg, config.string(), *impl);
  } catch (const json::exception& e) {
    fail(config.string(), "unexpected structure: {}", e.what());
  }
  return Tokenizer(std::move(impl));
}

}  // namespace hyb
