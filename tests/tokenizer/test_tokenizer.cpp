// Tokenizer tests against Hugging Face's own outputs: llama.cpp's 46 test vectors per tokenizer
// (HF encode, add_special_tokens=False), stories260K's reference input_ids, round trips over every
// corpus line, BOS/EOS rules, streaming, errors, and the internal parts on small cases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "../test_util.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace fs = std::filesystem;
using hyb::Tokenizer;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (size_t k; (k = s.find(sep, i)) != std::string::npos; i = k + sep.size()) out.push_back(s.substr(i, k - i));
  out.push_back(s.substr(i));
  return out;
}

// Tokenizers are loaded once per test binary: the 150K-vocab ones take a noticeable time.
const Tokenizer& cached(const fs::path& dir) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& t = cache[dir.string()];
  if (!t) t = std::make_unique<Tokenizer>(Tokenizer::load(dir));
  return *t;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

// ---------------------------------------------------------------------------------------------
// llama.cpp vectors: <name>.gguf.inp holds the strings, each followed by "\n__ggml_vocab_test__\n";
// line i of <name>.gguf.out holds HF's ids for string i, space separated (with a leading space).

void check_vectors(const std::string& vec_name, const std::string& tok_dir) {
  const auto vec = hyb::test::shared_path("data/tokenizers/vectors");
  const auto dir = hyb::test::shared_path(tok_dir);
  ASSERT_FALSE(vec.empty() || dir.empty());
  const Tokenizer& tok = cached(dir);

  auto inputs = split(read_file(vec / (vec_name + ".gguf.inp")), "\n__ggml_vocab_test__\n");
  ASSERT_EQ(inputs.back(), "");  // the file ends with a separator
  inputs.pop_back();
  auto lines = split(read_file(vec / (vec_name + ".gguf.out")), "\n");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(lines.size(), inputs.size());

  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int32_t> want;
    std::istringstream ls(lines[i]);
    for (int32_t id; ls >> id;) want.push_back(id);
    const auto got = tok.encode(inputs[i], /*add_special=*/false);
    EXPECT_EQ(got, want) << vec_name << " #" << i << " '" << inputs[i] << "'\n got:" << show(got)
                         << "\nwant:" << show(want);
    // All 46 strings are valid UTF-8 without added tokens: decoding gives them back exactly.
    // For Llama-2 that holds too: the normalizer's prepended "▁" is what the decoder's
    // Strip(" ", 1 leading) removes, and a leading space of the input was encoded as a second "▁".
    EXPECT_EQ(tok.decode(got), inputs[i]) << vec_name << " #" << i;
  }
}

}  // namespace

TEST(TokenizerVectors, Qwen2) {
  HYB_REQUIRE_SHARED(dir, "data/tokenizers/qwen2");
  check_vectors("qwen2", "data/tokenizers/qwen2");
}

TEST(TokenizerVectors, Llama3) {
  HYB_REQUIRE_SHARED(dir, "data/tokenizers/llama3");
  check_vectors("llama-bpe", "data/tokenizers/llama3");
}

TEST(TokenizerVectors, Llama2) {
  HYB_REQUIRE_SHARED(dir, "data/tokenizers/llama2");
  check_vectors("llama-spm", "data/tokenizers/llama2");
}

// ---------------------------------------------------------------------------------------------
// Round trips over every line of every corpus file. Expected: decode(encode(x)) == x, except that
// four Gutenberg lines hold Latin-1 bytes (not UTF-8): both models keep those bytes (byte-level,
// or byte fallback <0xNN>), and decoding renders each as U+FFFD exactly like HF's decoders
// (from_utf8_lossy / ByteFallback), so the expectation is utf8_lossy(x).

TEST(TokenizerRoundTrip, EveryCorpusLine) {
  HYB_REQUIRE_SHARED(corpora, "data/corpora");
  HYB_REQUIRE_SHARED(qwen2, "data/tokenizers/qwen2");
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  HYB_REQUIRE_SHARED(llama2, "data/tokenizers/llama2");
  HYB_REQUIRE_SHARED(stories, "data/models/stories260K/hf");
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(corpora))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 16u);

  for (const fs::path& dir : {qwen2, llama3, llama2, stories}) {
    const Tokenizer& tok = cached(dir);
    size_t lines = 0, invalid = 0, failures = 0;
    for (const fs::path& f : files) {
      for (const std::string& line : split(read_file(f), "\n")) {
        ++lines;
        const bool valid = hyb::tok::utf8_valid(line);
        invalid += !valid;
        const std::string want = valid ? line : hyb::tok::utf8_lossy(line);
        const std::string got = tok.decode(tok.encode(line, false));
        if (got != want && ++failures <= 5)
          ADD_FAILURE() << dir << " " << f.filename() << ": '" << line << "' -> '" << got << "'";
      }
    }
    EXPECT_EQ(failures, 0u) << dir;
    EXPECT_EQ(invalid, 4u) << dir;
    EXPECT_GT(lines, 150000u);
  }
}

// ---------------------------------------------------------------------------------------------
// BOS/EOS rules.

TEST(TokenizerSpecial, BosRules) {
  HYB_REQUIRE_SHARED(qwen2, "data/tokenizers/qwen2");
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  HYB_REQUIRE_SHARED(llama2, "data/tokenizers/llama2");
  HYB_REQUIRE_SHARED(stories, "data/models/stories260K/hf");
  const std::string text = "Hello world";

  const Tokenizer& q = cached(qwen2);  // ByteLevel post-processor: adds nothing
  EXPECT_FALSE(q.adds_bos());
  EXPECT_FALSE(q.adds_eos());
  EXPECT_FALSE(q.bos_id().has_value());
  EXPECT_EQ(q.eos_id(), 151645);  // tokenizer_config.json: <|im_end|>
  EXPECT_EQ(q.encode(text, true), q.encode(text, false));
  EXPECT_EQ(q.vocab_size(), 151665);

  struct Case {
    fs::path dir;
    int32_t bos, eos, vocab;
  };
  for (const Case& c : {Case{llama3, 128000, 128001, 128256}, Case{llama2, 1, 2, 32000}, Case{stories, 1, 2, 512}}) {
    const Tokenizer& t = cached(c.dir);
    EXPECT_TRUE(t.adds_bos()) << c.dir;
    EXPECT_FALSE(t.adds_eos()) << c.dir;
    EXPECT_EQ(t.bos_id(), c.bos) << c.dir;
    EXPECT_EQ(t.eos_id(), c.eos) << c.dir;
    EXPECT_EQ(t.vocab_size(), c.vocab) << c.dir;
    EXPECT_TRUE(t.is_special(c.bos));
    const auto plain = t.encode(text, false), with = t.encode(text, true);
    ASSERT_EQ(with.size(), plain.size() + 1);
    EXPECT_EQ(with[0], c.bos);
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with.begin() + 1));
    EXPECT_EQ(t.encode("", true), std::vector<int32_t>{c.bos});
    EXPECT_EQ(t.decode(with, /*skip_special=*/true), text) << c.dir;
  }
  // Special tokens written in the text are recognised even without add_special (HF default).
  EXPECT_EQ(cached(llama3).encode("<|begin_of_text|>Hi", false).front(), 128000);
  EXPECT_EQ(cached(qwen2).encode("a<|im_end|>", false).back(), 151645);
  EXPECT_EQ(cached(qwen2).decode({151644, 872}), "<|im_start|>user");
  EXPECT_EQ(cached(qwen2).decode({151644, 872}, true), "user");
  EXPECT_EQ(cached(llama2).piece(1), "<s>");
  EXPECT_EQ(cached(llama2).piece(13), "<0x0A>");
  EXPECT_THROW(cached(llama2).piece(32000), hyb::Error);
}

// tokenizer_config.json's add_bos_token / add_eos_token override the post-processor.
TEST(TokenizerSpecial, ConfigFlagsOverrideTemplate) {
  HYB_REQUIRE_SHARED(stories, "data/models/stories260K/hf");
  const fs::path dir = hyb::test::temp_dir("tok_config_flags");
  fs::copy_file(stories / "tokenizer.json", dir / "tokenizer.json");
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false, "add_eos_token": true})";
  const Tokenizer t = Tokenizer::load(dir);
  EXPECT_FALSE(t.adds_bos());
  EXPECT_TRUE(t.adds_eos());
  const auto ids = t.encode("Hi", true);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_NE(ids.front(), 1);
}

// stories260K's reference input_ids: the first TinyStories paragraph, HF tokenizer, BOS first.
TEST(TokenizerSpecial, Stories260KReferenceIds) {
  HYB_REQUIRE_SHARED(hf, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const std::string text = read_file(corpus).substr(0, read_file(corpus).find('\n'));
  EXPECT_EQ(nlohmann::json::parse(read_file(hf / "reference_text.json")).at("text"), text);

  // safetensors: u64 header length, JSON header, then raw little-endian tensors.
  const std::string st = read_file(hf / "reference.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, st.data(), 8);
  const auto header = nlohmann::json::parse(st.substr(8, n));
  const auto& info = header.at("input_ids");
  ASSERT_EQ(info.at("dtype"), "I64");
  const size_t b = info.at("data_offsets")[0], e = info.at("data_offsets")[1];
  std::vector<int32_t> want((e - b) / 8);
  for (size_t i = 0; i < want.size(); ++i) {
    int64_t v;
    std::memcpy(&v, st.data() + 8 + n + b + 8 * i, 8);
    want[i] = static_cast<int32_t>(v);
  }
  ASSERT_EQ(want.size(), info.at("shape")[1].get<size_t>());
  EXPECT_EQ(cached(hf).encode(text, true), want);
}

// ---------------------------------------------------------------------------------------------
// Streaming: pieces come out as whole UTF-8 characters and add up to decode().

TEST(TokenizerStream, MultiByteCharacters) {
  HYB_REQUIRE_SHARED(qwen2, "data/tokenizers/qwen2");
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  HYB_REQUIRE_SHARED(llama2, "data/tokenizers/llama2");
  HYB_REQUIRE_SHARED(wiki, "data/corpora/wikitext2_raw/wiki.test.raw");
  const std::string text = "Hello 世界! naïve café, 🙂🚀 ∑x² — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 done\n" + read_file(wiki).substr(0, 20000);
  for (const fs::path& dir : {qwen2, llama3, llama2}) {
    const Tokenizer& t = cached(dir);
    const auto ids = t.encode(text, true);
    hyb::StreamDecoder sd(t);
    std::string all;
    size_t empty_pushes = 0;
    for (int32_t id : ids) {
      const std::string piece = sd.push(id);
      EXPECT_TRUE(hyb::tok::utf8_valid(piece)) << dir << " id " << id;
      empty_pushes += piece.empty();
      all += piece;
    }
    all += sd.finish();
    EXPECT_EQ(all, t.decode(ids)) << dir;
    // Both split rare characters into byte tokens, which print only once complete.
    EXPECT_GT(empty_pushes, 1u) << dir;
  }
  // A lone emoji in Llama-2 is four <0xNN> byte-fallback tokens: nothing until the fourth.
  const Tokenizer& l2 = cached(llama2);
  const auto ids = l2.encode("🙂", false);
  ASSERT_EQ(ids.size(), 5u);  // "▁" + 4 bytes
  hyb::StreamDecoder sd(l2);
  std::vector<std::string> outs;
  for (int32_t id : ids) outs.push_back(sd.push(id));
  EXPECT_EQ(outs, (std::vector<std::string>{"", "", "", "", "🙂"}));
  EXPECT_EQ(sd.finish(), "");

  // Continuing a prompt: without context Llama-2's decoder strips the leading space of
  // "▁world"; primed with the prompt's ids it keeps it.
  const auto prompt = l2.encode("Hello", true);
  hyb::StreamDecoder fresh(l2), primed(l2);
  primed.prime(prompt);
  std::string a, b;
  for (int32_t id : l2.encode("world", false)) a += fresh.push(id);
  for (int32_t id : l2.encode("world", false)) b += primed.push(id);
  EXPECT_EQ(a + fresh.finish(), "world");
  EXPECT_EQ(b + primed.finish(), " world");
}

// Qwen2 normalizes to NFC first: a decomposed "e" + U+0301 encodes as the composed "é", also
// when the base letter is ASCII and the mark starts a non-ASCII run (the chunking edge).
TEST(TokenizerNormalize, Qwen2Nfc) {
  HYB_REQUIRE_SHARED(qwen2, "data/tokenizers/qwen2");
  const Tokenizer& q = cached(qwen2);
  EXPECT_EQ(q.encode("cafe\xCC\x81 ok", false), q.encode("caf\xC3\xA9 ok", false));
  EXPECT_EQ(q.decode(q.encode("cafe\xCC\x81", false)), "caf\xC3\xA9");
  EXPECT_EQ(q.encode("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB!", false), q.encode("\xED\x95\x9C!", false));  // Hangul jamo -> 한
  // Llama-3 has no normalizer: the decomposed form stays decomposed.
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  const Tokenizer& l = cached(llama3);
  EXPECT_NE(l.encode("cafe\xCC\x81", false), l.encode("caf\xC3\xA9", false));
  EXPECT_EQ(l.decode(l.encode("cafe\xCC\x81", false)), "cafe\xCC\x81");
}

// Arbitrary bytes (invalid UTF-8, special-token text, "▁", controls) never fail: byte-level
// Llama-3 (no normalizer) gives back every valid character and every added token verbatim, and
// U+FFFD where the input was not UTF-8; every decode is valid UTF-8.
TEST(TokenizerRobust, RandomBytes) {
  HYB_REQUIRE_SHARED(qwen2, "data/tokenizers/qwen2");
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  HYB_REQUIRE_SHARED(llama2, "data/tokenizers/llama2");
  const std::vector<std::string> atoms = {"a", " ", "\n", "\r\n", "  ", "é", "世", "🙂", "\xE2\x96\x81", "<|endoftext|>",
                                          "<|begin_of_text|>", "<s>", "'s", "123", "\xC3", "\x80", "\xFF", "\t", "\0"};
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    std::string x;
    for (int n = rng() % 40; n > 0; --n) {
      if (rng() % 3 == 0) x += static_cast<char>(rng() % 256);
      else x += atoms[rng() % atoms.size()];
    }
    for (const fs::path& dir : {qwen2, llama3, llama2}) {
      const Tokenizer& t = cached(dir);
      const std::string back = t.decode(t.encode(x, true));
      EXPECT_TRUE(hyb::tok::utf8_valid(back)) << dir;
      if (dir == llama3) {
        EXPECT_EQ(t.decode(t.encode(x, false)), hyb::tok::utf8_lossy(x));
      }
    }
  }
}
