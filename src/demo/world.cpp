#include "demo/world.h"

#include <algorithm>

#include "demo/vocab.h"
#include "util/error.h"

namespace hyb::demo {

// ---------------------------------------------------------------------------------------------
// Randomness

uint64_t Rng::next() {
  // splitmix64: s += golden gamma; z = s; two xor-shift-multiply rounds.
  uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t Rng::below(int64_t n) {
  // Reject the top partial block of 2^64 so that every residue is equally likely.
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t x;
  do x = next();
  while (x >= limit);
  return static_cast<int64_t>(x % un);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::vector<int64_t> Rng::sample(int64_t n, int64_t k) {
  // Partial Fisher-Yates: the first k slots of a shuffled 0..n-1.
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  for (int64_t i = 0; i < k; ++i) std::swap(v[i], v[i + below(n - i)]);
  v.resize(k);
  return v;
}

namespace {

// A seed for an independent stream: (seed, a, b) hashed through splitmix64.
uint64_t mix(uint64_t seed, uint64_t a, uint64_t b) {
  Rng r(seed ^ 0x5DEECE66Dull);
  r.next();
  Rng r2(r.next() ^ (a * 0xD1B54A32D192ED03ull));
  Rng r3(r2.next() ^ (b * 0x8CB92BA72F3D8DD7ull));
  return r3.next();
}

constexpr uint64_t kTrainStream = 1, kEvalStream = 2;
constexpr int64_t kChoices = 4;

// Choices for a question: the gold token and kChoices - 1 distractors, drawn in random order
// from `near` (words the context also holds, so that "which word did I see" does not answer)
// and then from `far`; shuffled, with the gold's index recorded.
Item make_item(int64_t row, int64_t pos, int32_t gold, const std::vector<int32_t>& near,
               const std::vector<int32_t>& far, Rng& rng) {
  Item it;
  it.row = row, it.pos = pos;
  it.choices.push_back(gold);
  for (const auto* pool : {&near, &far}) {
    const int64_t n = static_cast<int64_t>(pool->size());
    for (int64_t i : rng.sample(n, n)) {
      if (static_cast<int64_t>(it.choices.size()) == kChoices) break;
      const int32_t w = (*pool)[i];
      if (std::find(it.choices.begin(), it.choices.end(), w) == it.choices.end()) it.choices.push_back(w);
    }
  }
  for (int64_t i = static_cast<int64_t>(it.choices.size()) - 1; i > 0; --i)
    std::swap(it.choices[i], it.choices[rng.below(i + 1)]);
  it.gold = std::find(it.choices.begin(), it.choices.end(), gold) - it.choices.begin();
  return it;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Episodes

World::World(uint64_t seed, WorldOptions opt) : seed_(seed), opt_(opt) {
  if (opt_.seq_len < 3 + 4 * opt_.min_pairs + opt_.min_gap)
    fail("demo world", "seq_len {} cannot hold {} recall pairs and a gap of {}", opt_.seq_len, opt_.min_pairs,
         opt_.min_gap);
  if (opt_.min_pairs < kChoices || opt_.max_pairs < opt_.min_pairs || opt_.max_pairs > kKeys)
    fail("demo world", "recall pairs must satisfy {} <= min <= max <= {}", kChoices, kKeys);
}

std::vector<int32_t> World::episode(Kind kind, Rng& rng, int64_t row, std::vector<Item>* items) const {
  const int64_t T = opt_.seq_len;
  std::vector<int32_t> ids = {kBos};
  if (kind == Kind::kRecall) {
    // <s> = k1 v1 ... kN vN | . . . (gap) kq1 vq1 ... kqN vqN ; N as large as the row allows.
    const int64_t max_n = std::min(opt_.max_pairs, (T - 3 - opt_.min_gap) / 4);
    const int64_t n = opt_.min_pairs + rng.below(max_n - opt_.min_pairs + 1);
    const int64_t gap = T - 3 - 4 * n;
    auto keys = rng.sample(kKeys, n), values = rng.sample(kValues, n);
    std::vector<int32_t> episode_values;
    for (int64_t v : values) episode_values.push_back(value_id(static_cast<int>(v)));
    ids.push_back(mark_id('='));
    for (int64_t i = 0; i < n; ++i) {
      ids.push_back(key_id(static_cast<int>(keys[i])));
      ids.push_back(episode_values[i]);
    }
    ids.push_back(mark_id('|'));
    ids.insert(ids.end(), gap, mark_id('.'));
    for (int64_t i : rng.sample(n, n)) {
      ids.push_back(key_id(static_cast<int>(keys[i])));
      if (items) items->push_back(make_item(row, static_cast<int64_t>(ids.size()) - 1, episode_values[i], episode_values, {}, rng));
      ids.push_back(episode_values[i]);
    }
    return ids;
  }

  std::vector<int64_t> ask;  // indices i whose word is asked about (predicted from 0..i-1)
  std::vector<int32_t> near, far;  // distractors (see make_item)
  int64_t first = 0;          // first index that the context determines
  if (kind == Kind::kCopy) {
    // <s> ~ motif motif motif ...: word i (i >= 2) is motif[(i - 2) % p].
    const int64_t p = 2 + rng.below(3);
    auto motif = rng.sample(kKeys, p);
    ids.push_back(mark_id('~'));
    for (int64_t i = 2; i < T; ++i) ids.push_back(key_id(static_cast<int>(motif[(i - 2) % p])));
    // The period shows once the motif's first word comes back (index 2 + p); from then on each
    // word is the one p back.
    first = 2 + p + 1;
    for (int64_t m : motif) near.push_back(key_id(static_cast<int>(m)));
    for (int i = 0; i < kKeys; ++i) far.push_back(key_id(i));
  } else {
    // <s> # d0 d0+s d0+2s ... (mod 10): the step shows after two digits.
    const int64_t s = 1 + rng.below(3), d0 = rng.below(kDigits);
    ids.push_back(mark_id('#'));
    for (int64_t i = 2; i < T; ++i) ids.push_back(digit_id(static_cast<int>((d0 + s * (i - 2)) % kDigits)));
    first = 4;
    for (int d = 0; d < kDigits; ++d) near.push_back(digit_id(d));
  }
  if (items) {
    // Four questions per episode at distinct positions.
    for (int64_t k : rng.sample(T - first, std::min<int64_t>(4, T - first))) ask.push_back(first + k);
    std::sort(ask.begin(), ask.end());
    for (int64_t i : ask) items->push_back(make_item(row, i - 1, ids[i], near, far, rng));
  }
  return ids;
}

std::vector<std::vector<int32_t>> World::training_batch(int64_t stream, int64_t step, int64_t batch) const {
  Rng rng(mix(seed_, kTrainStream * 1000003 + static_cast<uint64_t>(stream), static_cast<uint64_t>(step)));
  std::vector<std::vector<int32_t>> rows;
  for (int64_t b = 0; b < batch; ++b) {
    const double u = rng.uniform();
    const Kind kind = u < opt_.recall_share                      ? Kind::kRecall
                      : u < opt_.recall_share + opt_.copy_share ? Kind::kCopy
                                                                 : Kind::kCount;
    rows.push_back(episode(kind, rng));
  }
  return rows;
}

const std::vector<std::string>& World::task_names() {
  static const std::vector<std::string> names = {"recall", "copy", "count"};
  return names;
}

TaskSet World::task(const std::string& name, int64_t episodes) const {
  TaskSet t;
  t.name = name;
  if (name == "recall") {
    t.kind = Kind::kRecall;
    t.ability = "long-range recall: the value of a key seen in a list far back";
  } else if (name == "copy") {
    t.kind = Kind::kCopy;
    t.ability = "local: continue a repeating motif of 2-4 words";
  } else if (name == "count") {
    t.kind = Kind::kCount;
    t.ability = "local: continue digits stepping by 1-3 (mod 10)";
  } else {
    fail("demo task", "unknown task '{}' (recall, copy, count)", name);
  }
  const uint64_t which = static_cast<uint64_t>(t.kind) + 1;
  Rng rng(mix(seed_, kEvalStream * 1000003 + which, 0));
  for (int64_t e = 0; e < episodes; ++e) t.rows.push_back(episode(t.kind, rng, e, &t.items));
  return t;
}

}  // namespace hyb::demo
