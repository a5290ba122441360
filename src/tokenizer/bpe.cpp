// bpe: merge table, the two merge loops, and word -> ids with its cache (see bpe.h).
#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace hyb::tok {

namespace {
constexpr std::string_view kWordStart = "\xE2\x96\x81";  // "▁" U+2581
}  // namespace

// ---------------------------------------------------------------------------------------------
// Merge table

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  int bits = 4;
  while (cap * 3 < n * 4) cap <<= 1, ++bits;  // load factor <= 3/4: short probe runs, small table
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{kEmpty, {0, 0}});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty) insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key), s.entry.rank, s.entry.id);
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t id) {
  if (4 * (size_ + 1) > 3 * slots_.size()) reserve(std::max<size_t>(16, 2 * (size_ + 1)));
  const uint64_t key = pack(left, right);
  for (uint64_t i = hash(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) {  // a repeated merge line: like HF's HashMap collect, the later one wins
      s.entry = {rank, id};
      return;
    }
    if (s.key == kEmpty) {
      s = Slot{key, {rank, id}};
      ++size_;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Merge loops

void merge_naive(const MergeTable& merges, std::vector<int32_t>& s) {
  while (s.size() > 1) {
    int32_t best_rank = INT32_MAX, best_id = -1;
    size_t best = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const MergeTable::Entry* e = merges.find(s[i], s[i + 1]);
      if (e && e->rank < best_rank) best_rank = e->rank, best_id = e->id, best = i;
    }
    if (best_id < 0) return;
    s[best] = best_id;
    s.erase(s.begin() + static_cast<ptrdiff_t>(best) + 1);
  }
}

void merge_heap(const MergeTable& merges, std::vector<int32_t>& s) {
  const int32_t n = static_cast<int32_t>(s.size());
  if (n < 2) return;
  // Symbols form a doubly linked list over the original positions; a merged-away symbol is -1.
  std::vector<int32_t> prev(n), next(n);
  for (int32_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;

  struct Cand {
    int32_t rank, pos, id;  // merge (pos, next[pos]) into id
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const MergeTable::Entry* e = merges.find(s[pos], s[next[pos]])) heap.push({e->rank, pos, e->id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);

  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    // Stale candidates: the left symbol was merged away, or either side changed since the push.
    if (s[c.pos] < 0 || next[c.pos] < 0) continue;
    const int32_t right = next[c.pos];
    const MergeTable::Entry* e = merges.find(s[c.pos], s[right]);
    if (!e || e->id != c.id) continue;
    s[c.pos] = c.id;
    s[right] = -1;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  s.erase(std::remove(s.begin(), s.end(), -1), s.end());
}

// ---------------------------------------------------------------------------------------------
// Word -> ids

void BpeModel::finish_setup() {
  byte_ids.fill(-1);
  ascii_ids.fill(-1);
  for (int b = 0; b < 256; ++b) {
    std::string key;
    if (byte_level) {
      key = bytes_to_pieces(std::string(1, static_cast<char>(b)));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      key = buf;
    }
    byte_ids[b] = piece_to_id.get(key);
  }
  for (int c = 0; c < 128; ++c) ascii_ids[c] = piece_to_id.get(std::string(1, static_cast<char>(c)));

  // "▁" must be a token itself (else fuse_unk could join unknown characters across the cut),
  // and may only follow another "▁" inside a token.
  split_at_word_starts = !byte_level && piece_to_id.get(kWordStart) >= 0;
  piece_to_id.for_each([&](std::string_view p, int32_t) {
    for (size_t k = p.find(kWordStart, 1); k != std::string_view::npos; k = p.find(kWordStart, k + 1))
      if (k < kWordStart.size() || p.substr(k - kWordStart.size(), kWordStart.size()) != kWordStart)
        split_at_word_starts = false;
  });
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& s) const {
  s.clear();
  bool last_unk = false;
  auto unknown = [&]() {
    // HF drops an unknown character when the model has no unk token.
    if (unk_id < 0) return;
    if (!(fuse_unk && last_unk)) s.push_back(unk_id);
    last_unk = true;
  };
  if (byte_level) {
    for (char c : word) {
      const int32_t id = byte_ids[static_cast<uint8_t>(c)];
      if (id >= 0) s.push_back(id), last_unk = false;
      else unknown();
    }
    return;
  }
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8_char_len(word, i);
    int32_t id = -1;
    const uint8_t c0 = static_cast<uint8_t>(word[i]);
    if (c0 < 0x80) {
      id = ascii_ids[c0];
    } else {
      id = piece_to_id.get(word.substr(i, n));
    }
    if (id >= 0) {
      s.push_back(id), last_unk = false;
    } else if (byte_fallback && std::all_of(word.begin() + i, word.begin() + i + n,
                                            [&](char b) { return byte_ids[static_cast<uint8_t>(b)] >= 0; })) {
      for (size_t k = i; k < i + n; ++k) s.push_back(byte_ids[static_cast<uint8_t>(word[k])]);
      last_unk = false;
    } else {
      unknown();
    }
    i += n;
  }
}

void BpeModel::tokenize(std::string_view text, std::vector<int32_t>& out) const {
  if (!split_at_word_starts) return tokenize_word(text, out);
  // Cut before every "▁" that does not follow another "▁": "▁a▁▁b" -> "▁a", "▁▁b".
  size_t begin = 0;
  for (size_t k = text.find(kWordStart, 1); k != std::string_view::npos; k = text.find(kWordStart, k + 1)) {
    const bool after_start = k >= kWordStart.size() && text.substr(k - kWordStart.size(), kWordStart.size()) == kWordStart;
    if (k > begin && !after_start) {
      tokenize_word(text.substr(begin, k - begin), out);
      begin = k;
    }
  }
  tokenize_word(text.substr(begin), out);
}

void BpeModel::tokenize_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kCacheMaxWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    const int32_t hit = cache_.get(word);
    if (hit >= 0) {
      const auto [off, len] = cache_spans_[hit];
      out.insert(out.end(), cache_ids_.begin() + off, cache_ids_.begin() + off + len);
      return;
    }
  }

  thread_local std::vector<int32_t> symbols;
  bool whole = false;
  if (ignore_merges) {
    const int32_t id = byte_level ? piece_to_id.get(bytes_to_pieces(word)) : piece_to_id.get(word);
    if (id >= 0) symbols.assign(1, id), whole = true;
  }
  if (!whole) {
    initial_symbols(word, symbols);
    if (symbols.size() <= 24) merge_naive(merges, symbols);
    else merge_heap(merges, symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());

  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear(), cache_spans_.clear(), cache_ids_.clear();
    cache_.set(word, static_cast<int32_t>(cache_spans_.size()));
    cache_spans_.emplace_back(static_cast<uint32_t>(cache_ids_.size()), static_cast<uint32_t>(symbols.size()));
    cache_ids_.insert(cache_ids_.end(), symbols.begin(), symbols.end());
  }
}

}  // namespace hyb::tok
