// Tokenizer parts on small hand-written cases: error messages, added-token flags, the Metaspace
// variant, split behaviours, and the two BPE merge loops against each other.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "../test_util.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hyb::Tokenizer;

namespace {

fs::path write_tokenizer(const std::string& name, const std::string& json) {
  const fs::path dir = hyb::test::temp_dir(name);
  std::ofstream(dir / "tokenizer.json") << json;
  return dir;
}

// Loading must throw hyb::Error whose message names the file and contains `problem`.
void expect_load_error(const fs::path& path, const std::string& file, const std::string& problem) {
  try {
    Tokenizer::load(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const hyb::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(problem), std::string::npos) << msg;
  }
}

// A character-level BPE: single letters, space, and a few merges; extra JSON spliced in.
std::string tiny_json(const std::string& added, const std::string& extra = "") {
  return R"({"added_tokens": [)" + added + R"(], )" + extra + R"(
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, " ": 3, "ab": 4, "abc": 5, "h": 6,
              "i": 7, "hi": 8, "<sep>": 9, "<l>": 10, "ok": 11, "o": 12, "k": 13},
              "merges": ["a b", "ab c", "h i", "o k"]}})";
}

std::vector<std::string> pieces(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(t.piece(id));
  return out;
}

}  // namespace

TEST(TokenizerErrors, MissingFileNamesIt) {
  const fs::path dir = hyb::test::temp_dir("tok_missing");
  expect_load_error(dir, (dir / "tokenizer.json").string(), "not found");
  expect_load_error(dir / "nope.json", "nope.json", "not found");
}

TEST(TokenizerErrors, CorruptJson) {
  const fs::path dir = write_tokenizer("tok_corrupt", R"({"model": {"type": "BPE", "vocab": )");
  expect_load_error(dir, "tokenizer.json", "invalid JSON");
}

TEST(TokenizerErrors, UnsupportedModelType) {
  const fs::path dir = write_tokenizer("tok_unigram", R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  expect_load_error(dir, "tokenizer.json", "model type 'Unigram' is not supported");
}

TEST(TokenizerErrors, MissingVocabOrMerges) {
  expect_load_error(write_tokenizer("tok_novocab", R"({"model": {"type": "BPE", "merges": []}})"),
                    "tokenizer.json", "model.vocab is missing");
  expect_load_error(write_tokenizer("tok_nomerges", R"({"model": {"type": "BPE", "vocab": {"a": 0}}})"),
                    "tokenizer.json", "model.merges is missing");
  expect_load_error(write_tokenizer("tok_badmerge", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a q"]}})"),
                    "tokenizer.json", "missing from the vocabulary");
  expect_load_error(write_tokenizer("tok_hugeid", R"({"model": {"type": "BPE", "vocab": {"a": 900000000}, "merges": []}})"),
                    "tokenizer.json", "far beyond");
  expect_load_error(write_tokenizer("tok_nomodel", R"({"normalizer": null})"), "tokenizer.json", "\"model\" is missing");
  expect_load_error(write_tokenizer("tok_badpre", tiny_json("", R"("pre_tokenizer": {"type": "BertPreTokenizer"},)")),
                    "tokenizer.json", "pre-tokenizer type 'BertPreTokenizer' is not supported");
  expect_load_error(write_tokenizer("tok_badtype", R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})"),
                    "tokenizer.json", "is not an integer id");
}

TEST(TokenizerErrors, CorruptConfigNamesIt) {
  const fs::path dir = write_tokenizer("tok_badcfg", tiny_json(""));
  std::ofstream(dir / "tokenizer_config.json") << "{ nope";
  expect_load_error(dir, "tokenizer_config.json", "not valid JSON");
}

TEST(TokenizerAdded, FlagsAndMatching) {
  const std::string added =
      R"({"id": 9, "content": "<sep>", "special": true, "normalized": false, "rstrip": true},
         {"id": 10, "content": "<l>", "special": false, "normalized": false, "lstrip": true},
         {"id": 11, "content": "ok", "special": false, "normalized": false, "single_word": true},
         {"id": 8, "content": "HI", "special": false, "normalized": true})";
  const Tokenizer t = Tokenizer::load(write_tokenizer("tok_added", tiny_json(added, R"("normalizer": {"type": "Lowercase"},)")));
  using V = std::vector<std::string>;
  // rstrip: the spaces after <sep> belong to it.
  EXPECT_EQ(pieces(t, t.encode("ab<sep>  c", false)), (V{"ab", "<sep>", "c"}));
  // lstrip: the spaces before <l> belong to it.
  EXPECT_EQ(pieces(t, t.encode("c  <l>c", false)), (V{"c", "<l>", "c"}));
  // single_word: "ok" only where it is not part of a word; elsewhere BPE spells it.
  EXPECT_EQ(pieces(t, t.encode("ok okc", false)), (V{"ok", " ", "ok", "c"}));
  EXPECT_EQ(pieces(t, t.encode("cok", false)), (V{"c", "ok"}));
  // normalized=true: matched after lowercasing, on its normalized form "hi".
  EXPECT_EQ(t.encode("Hi hI", false), (std::vector<int32_t>{8, 3, 8}));
  // Without a decoder HF joins the pieces with spaces.
  EXPECT_EQ(t.decode(t.encode("ab<sep>c", false), /*skip_special=*/true), "ab c");
  EXPECT_TRUE(t.is_special(9));
  EXPECT_FALSE(t.is_special(10));
}

TEST(TokenizerAdded, LeftmostLongest) {
  const std::string added = R"({"id": 9, "content": "<sep>", "special": true, "normalized": false},
                               {"id": 14, "content": "<sep>>", "special": true, "normalized": false},
                               {"id": 15, "content": "sep", "special": false, "normalized": false})";
  const Tokenizer t = Tokenizer::load(write_tokenizer("tok_longest", tiny_json(added)));
  EXPECT_EQ(t.encode("a<sep>>b<sep>", false), (std::vector<int32_t>{0, 14, 1, 9}));
}

// Sentencepiece-style via the Metaspace pre-tokenizer and decoder instead of normalizers.
TEST(TokenizerMetaspace, PreTokenizerAndDecoder) {
  const std::string json = R"({
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
    "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
    "added_tokens": [{"id": 7, "content": "<s>", "special": true, "normalized": false}],
    "model": {"type": "BPE", "byte_fallback": false, "unk_token": "<unk>", "fuse_unk": true,
              "vocab": {"<unk>": 0, "▁": 1, "a": 2, "b": 3, "▁a": 4, "▁ab": 5, "ab": 6, "<s>": 7},
              "merges": [["▁", "a"], ["▁a", "b"], ["a", "b"]]}})";
  const Tokenizer t = Tokenizer::load(write_tokenizer("tok_metaspace", json));
  EXPECT_EQ(t.encode("ab ab", false), (std::vector<int32_t>{5, 5}));
  // prepend_scheme "first": only the text at the very start gets a "▁"; unknown chars fuse to one unk.
  EXPECT_EQ(t.encode("ab<s>ab", false), (std::vector<int32_t>{5, 7, 6}));
  EXPECT_EQ(t.encode("xyz a", false), (std::vector<int32_t>{1, 0, 4}));
  EXPECT_EQ(t.decode({5, 5}), "ab ab");
}

// HF's documentation example for the five split behaviours: "the-final--countdown" on "-".
TEST(TokenizerSplit, Behaviours) {
  using hyb::tok::SplitBehavior;
  const hyb::tok::Regex dash("-", true, "test");
  auto run = [&](SplitBehavior b) {
    std::vector<hyb::tok::Piece> out;
    hyb::tok::split_pieces(dash, b, false, {"the-final--countdown", true},
                           [&](const hyb::tok::Piece& p) { out.push_back(p); });
    std::vector<std::string> s;
    for (const auto& p : out) s.emplace_back(p.text);
    return s;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(run(SplitBehavior::Removed), (V{"the", "final", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::Isolated), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::MergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(run(SplitBehavior::MergedWithNext), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(run(SplitBehavior::Contiguous), (V{"the", "-", "final", "--", "countdown"}));
}

// The heap merge (long words) against the naive rescan (short words) on random merge tables.
TEST(TokenizerBpe, HeapMatchesNaive) {
  std::mt19937 rng(1234);
  for (int table = 0; table < 20; ++table) {
    hyb::tok::MergeTable merges;
    const int alphabet = 3 + table % 5;
    int next_id = alphabet;
    std::vector<int32_t> ids(alphabet);
    for (int i = 0; i < alphabet; ++i) ids[i] = i;
    for (int rank = 0; rank < 60; ++rank) {  // merges over existing symbols, as BPE training makes
      const int32_t a = ids[rng() % ids.size()], b = ids[rng() % ids.size()];
      if (merges.find(a, b)) continue;
      merges.insert(a, b, rank, next_id);
      ids.push_back(next_id++);
    }
    for (int word = 0; word < 200; ++word) {
      std::vector<int32_t> s(1 + rng() % 120);
      for (auto& c : s) c = static_cast<int32_t>(rng() % alphabet);
      auto naive = s, heap = s;
      hyb::tok::merge_naive(merges, naive);
      hyb::tok::merge_heap(merges, heap);
      ASSERT_EQ(naive, heap) << "table " << table << " word " << word;
    }
  }
}

TEST(TokenizerUtf8, LossyLikeRust) {
  using hyb::tok::utf8_lossy;
  EXPECT_EQ(utf8_lossy("caf\xE9!"), "caf\xEF\xBF\xBD!");
  EXPECT_EQ(utf8_lossy("\xE2\x82"), "\xEF\xBF\xBD");                   // truncated: one subpart
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(utf8_lossy("\xE2\x82\xAC"), "\xE2\x82\xAC");
}
