#include "eval/cloze.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "eval/text.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb::eval {

namespace {

// splitmix64: a small generator whose sequence is the same on every platform.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

// A sentence-final word: its byte range [begin, end) in the story text.
struct Slot {
  size_t begin, end;
};

bool is_lower_word(const std::string& s, size_t b, size_t e) {
  if (e - b < 3) return false;
  for (size_t i = b; i < e; ++i)
    if (s[i] < 'a' || s[i] > 'z') return false;
  return true;
}

// Words right before '.', '!' or '?' (then a space, a quote or the end), preceded by a space.
std::vector<Slot> sentence_final_words(const std::string& s) {
  std::vector<Slot> out;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] != '.' && s[i] != '!' && s[i] != '?') continue;
    if (i + 1 < s.size() && s[i + 1] != ' ' && s[i + 1] != '\n' && s[i + 1] != '"') continue;
    size_t b = i;
    while (b > 0 && s[b - 1] >= 'a' && s[b - 1] <= 'z') --b;
    if (b == 0 || s[b - 1] != ' ' || !is_lower_word(s, b, i)) continue;
    out.push_back({b, i});
  }
  return out;
}

std::vector<std::string> stories_of(const std::string& corpus) {
  std::vector<std::string> stories;
  for (auto& para : split(replace_all(corpus, "\r\n", "\n"), "\n\n")) {
    const std::string p = py_strip(para);
    if (p.empty()) continue;
    if (stories.empty() || p.rfind("Once upon a time", 0) == 0) stories.push_back(p);
    else stories.back() += "\n\n" + p;
  }
  return stories;
}

}  // namespace

std::vector<ClozeItem> make_cloze(const std::string& corpus, const ClozeOptions& opt) {
  Rng rng{opt.seed};
  std::vector<ClozeItem> items;
  for (const auto& story : stories_of(corpus)) {
    if (static_cast<int64_t>(items.size()) >= opt.max_items) break;
    const auto slots = sentence_final_words(story);
    if (slots.size() < 2) continue;
    std::set<std::string> words;
    for (const auto& s : slots) words.insert(story.substr(s.begin, s.end - s.begin));
    if (static_cast<int64_t>(words.size()) < opt.distractors + 1) continue;
    const Slot& target = slots[1 + rng.below(slots.size() - 1)];  // not the first sentence
    const std::string answer = story.substr(target.begin, target.end - target.begin);
    std::vector<std::string> others;
    for (const auto& w : words)
      if (w != answer) others.push_back(w);
    // Distractors: a random sample of the other words (partial Fisher-Yates).
    std::vector<std::string> choices = {answer};
    for (int64_t k = 0; k < opt.distractors; ++k) {
      const size_t j = k + rng.below(others.size() - k);
      std::swap(others[k], others[j]);
      choices.push_back(others[k]);
    }
    for (size_t k = choices.size() - 1; k > 0; --k) std::swap(choices[k], choices[rng.below(k + 1)]);
    ClozeItem item;
    item.context = story.substr(0, target.begin - 1);
    // Keep the context short for small windows: cut whole paragraphs from the front.
    while (static_cast<int64_t>(item.context.size()) > opt.max_context_chars) {
      const size_t cut = item.context.find("\n\n");
      if (cut == std::string::npos) break;
      item.context = item.context.substr(cut + 2);
    }
    item.gold = std::find(choices.begin(), choices.end(), answer) - choices.begin();
    item.choices = std::move(choices);
    items.push_back(std::move(item));
  }
  return items;
}

void write_cloze_jsonl(const std::vector<ClozeItem>& items, const std::filesystem::path& file) {
  write_stream_atomic(file, [&](std::ostream& f) {
    for (const auto& it : items)
      f << nlohmann::json{{"context", it.context}, {"choices", it.choices}, {"gold", it.gold}}.dump() << "\n";
  });
}

}  // namespace hyb::eval
