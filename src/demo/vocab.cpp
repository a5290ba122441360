#include "demo/vocab.h"

#include <unordered_map>

#include "util/error.h"

namespace hyb::demo {

namespace {

constexpr const char* kMarks = "=|.~#";
const std::string kSpace = "\xE2\x96\x81";  // "▁", sentencepiece's space

struct Table {
  std::vector<std::string> words;  // id -> word (or piece)
  std::unordered_map<std::string, int32_t> ids;
  int32_t first_piece = 0;  // ids >= this are BPE pieces, not words
};

const Table& table() {
  static const Table t = [] {
    Table t;
    t.words = {"<s>", "</s>", "<unk>"};
    for (int i = 0; i < kKeys; ++i) t.words.push_back(std::string(1, static_cast<char>('a' + i)));
    for (int i = 0; i < kValues; ++i) t.words.push_back(std::string(1, static_cast<char>('A' + i)));
    for (int i = 0; i < kDigits; ++i) t.words.push_back(std::string(1, static_cast<char>('0' + i)));
    for (const char* m = kMarks; *m; ++m) t.words.push_back(std::string(1, *m));
    t.first_piece = static_cast<int32_t>(t.words.size());
    for (int32_t i = 0; i < t.first_piece; ++i) t.ids[t.words[i]] = i;
    // Pieces: "▁" then every word's character again (they are BPE's starting symbols).
    t.words.push_back(kSpace);
    for (int32_t i = 3; i < t.first_piece; ++i) t.words.push_back(t.words[i]);
    return t;
  }();
  return t;
}

}  // namespace

int32_t vocab_size() { return static_cast<int32_t>(table().words.size()); }
int32_t key_id(int i) { return 3 + i; }
int32_t value_id(int i) { return 3 + kKeys + i; }
int32_t digit_id(int d) { return 3 + kKeys + kValues + d; }

int32_t mark_id(char c) {
  for (int i = 0; kMarks[i]; ++i)
    if (kMarks[i] == c) return 3 + kKeys + kValues + kDigits + i;
  fail("demo vocabulary", "'{}' is not a marker", c);
}

const std::string& word(int32_t id) { return table().words.at(id); }

int32_t word_id(std::string_view w) {
  auto it = table().ids.find(std::string(w));
  return it == table().ids.end() ? -1 : it->second;
}

std::vector<int32_t> encode(std::string_view text, bool add_bos) {
  std::vector<int32_t> out;
  if (add_bos) out.push_back(kBos);
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    if (j > i) {
      const int32_t id = word_id(text.substr(i, j - i));
      out.push_back(id < 0 ? kUnk : id);
    }
    i = j;
  }
  return out;
}

std::string decode(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    if (id == kBos || id == kEos) continue;
    if (!out.empty()) out += ' ';
    out += id >= 0 && id < vocab_size() ? word(id) : "<unk>";
  }
  return out;
}

nlohmann::json tokenizer_json() {
  using nlohmann::json;
  const Table& t = table();
  json vocab = json::object(), merges = json::array();
  for (int32_t i = 0; i < 3; ++i) vocab[t.words[i]] = i;
  // Words as sentencepiece pieces "▁a"; the merge "▁ a" builds each from its two symbols.
  for (int32_t i = 3; i < t.first_piece; ++i) {
    vocab[kSpace + t.words[i]] = i;
    merges.push_back(kSpace + " " + t.words[i]);
  }
  for (int32_t i = t.first_piece; i < vocab_size(); ++i) vocab[t.words[i]] = i;
  json added = json::array();
  for (int32_t i = 0; i < 3; ++i)
    added.push_back({{"id", i}, {"content", t.words[i]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  json metaspace = {{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "always"}, {"split", true}};
  json bos_item = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  json seq = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  json seq_b = {{"Sequence", {{"id", "B"}, {"type_id", 1}}}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", metaspace},
          {"post_processor",
           {{"type", "TemplateProcessing"},
            {"single", {bos_item, seq}},
            {"pair", {bos_item, seq, bos_item, seq_b}},
            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {kBos}}, {"tokens", {"<s>"}}}}}}}},
          {"decoder", metaspace},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", "<unk>"},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", true},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

nlohmann::json tokenizer_config_json() {
  return {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"},
          {"add_bos_token", true}, {"add_eos_token", false}, {"model_max_length", 65536},
          {"tokenizer_class", "LlamaTokenizerFast"}};
}

}  // namespace hyb::demo
