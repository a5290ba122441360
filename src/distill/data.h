// distill/data: the distillation corpus as a deterministic stream of fixed-length token sequences.
//
//   files (globs expanded, sorted) -> documents -> [BOS] tokens [EOS] -> packed into rows of T
//
// A .txt file holds documents separated by blank lines; a .jsonl file one JSON object per line with
// a "text" field. Files are read a line at a time, so the corpus is never held in memory. Packing
// concatenates documents and cuts the token stream every T tokens: a document may straddle two
// sequences, and the tail that does not fill a last sequence is dropped at the end of the data.
//
// The first K sequences of the stream are held out (evaluation) and never trained on; training
// sequences follow. When the data runs out, the stream starts again from the first file (a new
// epoch) and skips the held-out sequences again, so they stay unseen. Order is a pure function of
// the files and the tokenizer: resuming re-streams and skips the sequences already consumed.
// Pure C++ (no torch).
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyb {

class Tokenizer;

// What packing needs from a tokenizer. bos is set only when the tokenizer adds BOS to an encoding
// (HF add_special_tokens); eos whenever it has one.
struct DocTokenizer {
  std::function<std::vector<int32_t>(std::string_view)> encode;  // without special tokens
  std::optional<int32_t> bos, eos;
  static DocTokenizer from(const Tokenizer& tok);
};

// Expands each pattern (a path whose components may hold * ? [..] wildcards) into the files it
// matches, sorted; a pattern without wildcards must name an existing file. Duplicates are kept
// once. Throws hyb::Error naming a pattern that matches nothing.
std::vector<std::filesystem::path> expand_data_paths(const std::vector<std::string>& patterns);

// Documents of several files, in order, read incrementally.
class DocumentReader {
 public:
  explicit DocumentReader(std::vector<std::filesystem::path> files);
  // Next non-empty document; false after the last one of the last file.
  bool next(std::string& doc);
  // "file:line" of the line read last (error messages).
  std::string where() const;

 private:
  bool open_next_file();
  std::vector<std::filesystem::path> files_;
  size_t file_ = 0;  // index of the open file + 1 (0: none opened yet)
  std::ifstream in_;
  bool jsonl_ = false;
  int64_t line_ = 0;
};

struct PackOptions {
  int64_t seq_len = 1024;
  int64_t held_out = 0;    // K: the first K sequences are evaluation data
  int64_t vocab_size = 0;  // > 0: every id must be below it (the model's embedding rows)
  // Map ids >= vocab_size to id % vocab_size instead of failing: only for random test fixtures
  // whose vocabulary is smaller than their tokenizer's.
  bool fold_vocab = false;
  // Fewer than K sequences in the data: keep what there is instead of failing (evaluation sets).
  bool allow_fewer_held_out = false;
};

class SequenceStream {
 public:
  // Reads the K held-out sequences at once; throws hyb::Error if the data does not hold more than
  // K sequences (nothing would be left to train on).
  SequenceStream(std::vector<std::filesystem::path> files, DocTokenizer tok, PackOptions opt);

  const std::vector<std::vector<int32_t>>& held_out() const { return held_out_; }
  // The next training sequence (seq_len ids).
  std::vector<int32_t> next();
  // Skips n training sequences (resume).
  void skip(int64_t n);

  int64_t consumed() const { return consumed_; }  // training sequences returned or skipped
  int64_t epoch() const { return epoch_; }        // 0 on the first pass over the data
  int64_t documents() const { return documents_; }  // documents read in this pass

 private:
  bool pack(std::vector<int32_t>& out);  // next sequence of this pass; false at its end
  void restart();                        // new pass: reopen, skip the held-out sequences

  std::vector<std::filesystem::path> files_;
  DocTokenizer tok_;
  PackOptions opt_;
  std::optional<DocumentReader> reader_;
  std::vector<int32_t> buffer_;  // tokens read but not yet packed
  size_t buffer_pos_ = 0;
  std::vector<std::vector<int32_t>> held_out_;
  int64_t consumed_ = 0, epoch_ = 0, documents_ = 0, pass_sequences_ = 0;
};

}  // namespace hyb
