// eval/cloze: a cloze task made from TinyStories text, for models too small for the harness's
// tasks (stories260K scores chance there). Written in the generic JSONL format (docs/eval.md).
//
// Stories: the corpus's blank-line paragraphs, a new story at each paragraph that starts with
// "Once upon a time" (TinyStories separates stories and paragraphs alike). In each story with
// enough material, one item:
//   answer      the last word of a sentence (a lower-case word of >= 3 letters right before
//               '.', '!' or '?'), chosen at random among the story's sentences after its first;
//   context     the story up to that word (the space before it excluded);
//   choices     the answer and `distractors` other sentence-final words of the same story
//               (so they fit the story's topic but usually not the sentence), in random order.
// A model that follows the sentence beats chance (1 / (distractors + 1)). Deterministic for a
// seed (its own generator, not std::*_distribution). Pure C++.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hyb::eval {

struct ClozeOptions {
  int64_t max_items = 1000;
  int64_t distractors = 3;
  uint64_t seed = 1234;
  int64_t max_context_chars = 1500;  // drop the oldest paragraphs beyond this (small windows)
};

struct ClozeItem {
  std::string context;
  std::vector<std::string> choices;
  int64_t gold = 0;
};

std::vector<ClozeItem> make_cloze(const std::string& corpus, const ClozeOptions& opt = {});
// One {"context", "choices", "gold"} line per item.
void write_cloze_jsonl(const std::vector<ClozeItem>& items, const std::filesystem::path& file);

}  // namespace hyb::eval
