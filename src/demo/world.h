// demo/world: the demo's synthetic world, generated from a seed, nothing stored. Text is words
// separated by spaces, one token per word (demo/vocab), in three kinds of episode that need
// different abilities:
//
//   recall (multi-query associative recall, "MQAR" of Zoology / Based, Arora et al. 2024):
//     <s> = a X q B m T ... | . . . . . . q B a X m T ...
//     N key-value pairs (distinct lowercase keys, distinct uppercase values), a separator, a gap
//     of filler dots, then the keys again in another order, each followed by its value. After a
//     queried key the value is determined only by a pair seen at least `gap` + 2 tokens back,
//     among N - 1 other pairs: precise recall over the context, which softmax attention does by
//     looking the key up and a fixed-size recurrent state does only approximately.
//   copy (periodic continuation):  <s> ~ d k r d k r d k r ...
//     a motif of 2-4 distinct letters repeated; the next word is the one `period` words back.
//   count (arithmetic continuation): <s> # 3 5 7 9 1 3 ...
//     digits stepping by s in {1,2,3} (mod 10); the next word follows from the last two.
// copy and count are local: the answer is determined by the last few words.
//
// Training text mixes the three kinds; every training row is one episode of exactly seq_len
// tokens. Evaluation tasks are multiple choice: the context is a prefix of an episode ending
// just before a predictable word, the choices are that word and distractors of the same kind
// (for recall: other values of the same episode, so every choice appeared in the context), and
// the score is accuracy by log-likelihood. Evaluation episodes come from a random stream
// separate from training's. Randomness is our own splitmix64, so a seed gives the same world on
// every platform (std::uniform_int_distribution is implementation-defined). Pure C++.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hyb::demo {

// splitmix64 (Steele, Lea, Flood 2014): a tiny generator with a fixed, portable output.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next();
  int64_t below(int64_t n);  // uniform in [0, n), n >= 1 (rejection sampling, no modulo bias)
  double uniform();          // [0, 1)
  // k distinct values of [0, n), in random order.
  std::vector<int64_t> sample(int64_t n, int64_t k);

 private:
  uint64_t s_;
};

enum class Kind { kRecall, kCopy, kCount };

struct WorldOptions {
  int64_t seq_len = 64;             // tokens per training row (BOS included)
  int64_t min_pairs = 8, max_pairs = 12;  // recall: key-value pairs per episode
  int64_t min_gap = 8;              // recall: filler between the pairs and the first query
  double recall_share = 0.5, copy_share = 0.25;  // of training rows; the rest are count rows
};

// One multiple-choice question. Its context is rows[row][0..pos] (pos included); the word to
// predict is rows[row][pos + 1] == choices[gold].
struct Item {
  int64_t row = 0, pos = 0;
  std::vector<int32_t> choices;  // one token each
  int64_t gold = 0;
};

// An evaluation task: episodes and the questions asked about them (several per episode: their
// contexts are prefixes of one row, so a causal model scores them all in one forward pass).
struct TaskSet {
  std::string name;     // "recall" | "copy" | "count"
  std::string ability;  // one line for the report
  Kind kind = Kind::kRecall;
  std::vector<std::vector<int32_t>> rows;
  std::vector<Item> items;
};

class World {
 public:
  World(uint64_t seed, WorldOptions opt = {});
  const WorldOptions& options() const { return opt_; }
  uint64_t seed() const { return seed_; }

  // Training rows [batch][seq_len] for optimiser step `step` (and the stream `stream`: the
  // teacher and the students read different text), a pure function of (seed, stream, step).
  std::vector<std::vector<int32_t>> training_batch(int64_t stream, int64_t step, int64_t batch) const;
  // One episode of `kind`, seq_len tokens, from `rng`. Items (positions of predictable words)
  // are appended to `items` with row index `row` when items != nullptr.
  std::vector<int32_t> episode(Kind kind, Rng& rng, int64_t row = 0, std::vector<Item>* items = nullptr) const;

  // The evaluation task `name` ("recall", "copy", "count") with `episodes` rows.
  TaskSet task(const std::string& name, int64_t episodes) const;
  static const std::vector<std::string>& task_names();

 private:
  uint64_t seed_;
  WorldOptions opt_;
};

}  // namespace hyb::demo
