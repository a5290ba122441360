// The distillation corpus: document splitting (.txt blank lines, CRLF, .jsonl), globs, packing with
// BOS / EOS at document boundaries, the held-out slice (first K sequences, never trained on, not
// even after the data wraps around), skip() for resume, and the vocabulary check.
#include <fstream>

#include "../test_util.h"
#include "distill/data.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// Bytes as ids (so tests can predict every token), BOS 1000, EOS 1001.
DocTokenizer byte_tokenizer(bool bos = true, bool eos = true) {
  DocTokenizer t;
  t.encode = [](std::string_view s) { return std::vector<int32_t>(s.begin(), s.end()); };
  if (bos) t.bos = 1000;
  if (eos) t.eos = 1001;
  return t;
}

std::vector<std::string> documents(const std::vector<fs::path>& files) {
  DocumentReader r(files);
  std::vector<std::string> docs;
  std::string d;
  while (r.next(d)) docs.push_back(d);
  return docs;
}

TEST(DistillData, DocumentsFromTextAndJsonl) {
  auto dir = test::temp_dir("data_docs");
  // Blank and whitespace-only lines separate documents; CRLF is stripped; runs of blanks are one gap.
  write(dir / "a.txt", "first line\r\nsecond line\r\n\r\n  \t\nnext doc\n\n\n");
  write(dir / "b.jsonl", "{\"text\": \"json one\"}\n\n{\"text\": \"\", \"id\": 3}\n{\"text\": \"two\\nlines\"}\n");
  auto docs = documents({dir / "a.txt", dir / "b.jsonl"});
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0], "first line\nsecond line");
  EXPECT_EQ(docs[1], "next doc");
  EXPECT_EQ(docs[2], "json one");
  EXPECT_EQ(docs[3], "two\nlines");

  write(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  try {
    documents({dir / "bad.jsonl"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(DistillData, GlobsAreExpandedAndSorted) {
  auto dir = test::temp_dir("data_glob");
  fs::create_directories(dir / "sub");
  for (const char* f : {"c.txt", "a.txt", "b.jsonl", ".hidden.txt", "sub/d.txt"}) write(dir / f, "x\n");
  auto files = expand_data_paths({(dir / "*.txt").string(), (dir / "b.jsonl").string(), (dir / "*" / "*.txt").string()});
  std::vector<fs::path> want{dir / "a.txt", dir / "c.txt", dir / "b.jsonl", dir / "sub" / "d.txt"};
  EXPECT_EQ(files, want);
  EXPECT_THROW(expand_data_paths({(dir / "*.csv").string()}), Error);
  EXPECT_THROW(expand_data_paths({(dir / "missing.txt").string()}), Error);
}

TEST(DistillData, PackingBoundariesAndHeldOut) {
  auto dir = test::temp_dir("data_pack");
  write(dir / "1.txt", "abc\n\ndefgh\n");
  write(dir / "2.jsonl", "{\"text\": \"ij\"}\n");
  // The token stream of one pass: [BOS a b c EOS] [BOS d e f g h EOS] [BOS i j EOS] = 16 tokens.
  std::vector<int32_t> pass{1000, 'a', 'b', 'c', 1001, 1000, 'd', 'e', 'f', 'g', 'h', 1001, 1000, 'i', 'j', 1001};
  PackOptions po;
  po.seq_len = 3;
  po.held_out = 2;  // 16 tokens -> 5 sequences of 3 (the last token dropped); 2 held out, 3 to train
  SequenceStream s({dir / "1.txt", dir / "2.jsonl"}, byte_tokenizer(), po);
  auto seq = [&](int i) { return std::vector<int32_t>(pass.begin() + 3 * i, pass.begin() + 3 * i + 3); };
  ASSERT_EQ(s.held_out().size(), 2u);
  EXPECT_EQ(s.held_out()[0], seq(0));
  EXPECT_EQ(s.held_out()[1], seq(1));
  // Training: sequences 2, 3, 4, then a new epoch starts again at 2 (0 and 1 stay held out).
  for (int epoch = 0; epoch < 3; ++epoch)
    for (int i = 2; i < 5; ++i) {
      EXPECT_EQ(s.next(), seq(i)) << "epoch " << epoch << " sequence " << i;
      EXPECT_EQ(s.epoch(), epoch);
    }
  EXPECT_EQ(s.consumed(), 9);

  // Resume: skip(n) lands where n calls of next() would.
  SequenceStream r({dir / "1.txt", dir / "2.jsonl"}, byte_tokenizer(), po);
  r.skip(4);
  EXPECT_EQ(r.next(), seq(3));
  EXPECT_EQ(r.consumed(), 5);

  // No BOS (a tokenizer that does not add one), EOS only.
  PackOptions p1;
  p1.seq_len = 4;
  SequenceStream e({dir / "1.txt"}, byte_tokenizer(false, true), p1);
  EXPECT_EQ(e.next(), (std::vector<int32_t>{'a', 'b', 'c', 1001}));
  EXPECT_EQ(e.next(), (std::vector<int32_t>{'d', 'e', 'f', 'g'}));

  // Everything held out: an error, not an endless loop.
  PackOptions all = po;
  all.held_out = 5;
  SequenceStream a({dir / "1.txt", dir / "2.jsonl"}, byte_tokenizer(), all);
  EXPECT_THROW(a.next(), Error);
  all.held_out = 6;
  EXPECT_THROW(SequenceStream({dir / "1.txt", dir / "2.jsonl"}, byte_tokenizer(), all), Error);
}

TEST(DistillData, VocabularyCheck) {
  auto dir = test::temp_dir("data_vocab");
  write(dir / "t.txt", "AB\n");  // 65, 66
  PackOptions po;
  po.seq_len = 2;
  po.vocab_size = 66;
  try {
    SequenceStream({dir / "t.txt"}, byte_tokenizer(false, false), po).next();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.txt:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("token id 66"), std::string::npos) << e.what();
  }
  po.fold_vocab = true;
  EXPECT_EQ(SequenceStream({dir / "t.txt"}, byte_tokenizer(false, false), po).next(), (std::vector<int32_t>{65, 0}));
}

// The real tokenizer of stories260K: BOS (it adds one) before each story, EOS after it.
TEST(DistillData, RealTokenizerPlacesBosAndEos) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const Tokenizer tok = Tokenizer::load(model);
  DocTokenizer dt = DocTokenizer::from(tok);
  ASSERT_TRUE(dt.bos && dt.eos);
  EXPECT_EQ(*dt.bos, *tok.bos_id());
  EXPECT_EQ(*dt.eos, *tok.eos_id());
  std::string first;
  DocumentReader({corpus}).next(first);
  auto ids = tok.encode(first, false);
  PackOptions po;
  po.seq_len = static_cast<int64_t>(ids.size()) + 3;
  po.held_out = 1;
  po.vocab_size = 512;
  SequenceStream s({corpus}, dt, po);
  const auto& h = s.held_out()[0];
  EXPECT_EQ(h[0], *dt.bos);
  EXPECT_TRUE(std::equal(ids.begin(), ids.end(), h.begin() + 1));
  EXPECT_EQ(h[ids.size() + 1], *dt.eos);
  EXPECT_EQ(h[ids.size() + 2], *dt.bos);  // the next story starts
}

}  // namespace
}  // namespace hyb
