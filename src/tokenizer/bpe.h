// bpe: the BPE model of tokenizer.json: one pre-tokenized word in, token ids out.
//
// A word starts as one symbol per character (byte-level: per byte) and then repeatedly merges the
// adjacent pair with the lowest merge rank, leftmost first, until no pair is in the merge table:
//   word = [c_1 .. c_n];  while some (w_i, w_i+1) in merges: merge the argmin_i rank(w_i, w_i+1)
// Two implementations give the same result: merge_naive rescans all pairs after every merge
// (O(n^2), fastest for short words), merge_heap keeps candidate pairs in a min-heap on
// (rank, position) over a linked list of symbols (O(n log n), for long words such as a whole
// sentencepiece-style paragraph). Results of short words are cached: text repeats its words.
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/string_map.h"

namespace hyb::tok {

// (left id, right id) -> (rank, merged id): open addressing with linear probing, because this
// lookup is the inner loop of encoding and std::unordered_map chases a pointer per probe.
class MergeTable {
 public:
  struct Entry {
    int32_t rank, id;
  };
  void reserve(size_t n);
  void insert(int32_t left, int32_t right, int32_t rank, int32_t id);  // later insert wins
  const Entry* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (uint64_t i = hash(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.entry;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key;
    Entry entry;
  };
  static constexpr uint64_t kEmpty = ~0ull;  // ids are >= 0, so no real key is all ones
  static uint64_t pack(int32_t a, int32_t b) {
    return static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32 | static_cast<uint32_t>(b);
  }
  uint64_t hash(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

// Merge symbols in place until no adjacent pair has a rank.
void merge_naive(const MergeTable& merges, std::vector<int32_t>& symbols);
void merge_heap(const MergeTable& merges, std::vector<int32_t>& symbols);

struct BpeModel {
  // Vocabulary as spelled in tokenizer.json ("Ġthe", "▁the", "<0x0A>").
  StringMap piece_to_id;
  MergeTable merges;

  bool byte_level = false;     // words arrive as raw bytes, one initial symbol per byte
  bool ignore_merges = false;  // a word that is itself a token is emitted whole (Llama-3)
  bool byte_fallback = false;  // unknown characters become <0xNN> byte tokens (Llama-2)
  bool fuse_unk = false;       // a run of unknown characters is one unk token
  int32_t unk_id = -1;
  // Sentencepiece-style vocabularies spell word starts with "▁" and have no token with a "▁"
  // after another character, so no merge ever crosses the start of a "▁" run: a long text (no
  // pre-tokenizer splits Llama-2's input) can be cut there into words that are merged and cached
  // one by one, with the same result. finish_setup() checks the vocabulary and sets this.
  bool split_at_word_starts = false;

  // Byte-level: id of the character standing for byte b. Byte fallback: id of "<0xNN>". -1: none.
  std::array<int32_t, 256> byte_ids{};
  // Character-level: id of the one-character ASCII token, -1 if none (saves a hash per char).
  std::array<int32_t, 128> ascii_ids{};

  // Call once the fields above are filled: derives byte_ids and ascii_ids.
  void finish_setup();

  // Appends the ids of one word (raw bytes if byte_level, else the normalized text).
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  // Cache: word -> index into cache_spans_, a [offset, length) of its ids in cache_ids_.
  // Cleared whole when full.
  static constexpr size_t kCacheMaxWord = 256, kCacheMaxEntries = 1 << 16;

 private:
  void initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const;
  void tokenize_word(std::string_view word, std::vector<int32_t>& out) const;
  mutable std::mutex cache_mu_;
  mutable StringMap cache_;
  mutable std::vector<std::pair<uint32_t, uint32_t>> cache_spans_;
  mutable std::vector<int32_t> cache_ids_;
};

}  // namespace hyb::tok
