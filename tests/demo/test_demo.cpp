// The demo's world (deterministic per seed; its tasks have the properties docs/demo.md states)
// and `demo --quick` end to end (report structure, exported hybrids that score what the search
// scored).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>

#include "../test_util.h"
#include "demo/demo.h"
#include "demo/report.h"
#include "demo/score.h"
#include "demo/vocab.h"
#include "demo/world.h"
#include "eval/scorer.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace hyb::demo {
namespace {

TEST(DemoWorld, SameSeedSameWorld) {
  const World a(7), b(7), c(8);
  EXPECT_EQ(a.training_batch(0, 3, 16), b.training_batch(0, 3, 16));
  EXPECT_NE(a.training_batch(0, 3, 16), c.training_batch(0, 3, 16));
  EXPECT_NE(a.training_batch(0, 3, 16), a.training_batch(0, 4, 16));
  EXPECT_NE(a.training_batch(0, 3, 16), a.training_batch(1, 3, 16));  // teacher and students read different text
  for (const auto& name : World::task_names()) {
    const TaskSet x = a.task(name, 8), y = b.task(name, 8), z = c.task(name, 8);
    EXPECT_EQ(x.rows, y.rows) << name;
    EXPECT_EQ(x.items.size(), y.items.size()) << name;
    for (size_t i = 0; i < x.items.size(); ++i) {
      EXPECT_EQ(x.items[i].choices, y.items[i].choices);
      EXPECT_EQ(x.items[i].gold, y.items[i].gold);
    }
    EXPECT_NE(x.rows, z.rows) << name;
  }
  // A fixed value: the generator is our own, so this holds on every platform.
  Rng r(0);
  EXPECT_EQ(r.next(), 0xE220A8397B1DCDAFull);
}

TEST(DemoWorld, RecallEvaluationIsNotTrainingText) {
  // Recall episodes are drawn from ~10^20 possibilities, so an evaluation episode seen in
  // training would mean the streams are not independent. (The local kinds have few distinct
  // episodes, 30 count sequences, and overlap harmlessly: their answer is a rule.)
  const World w(0);
  std::set<std::vector<int32_t>> train;
  for (int64_t step = 0; step < 20; ++step) {
    for (auto& row : w.training_batch(0, step, 32)) train.insert(row);
    for (auto& row : w.training_batch(0, step, 32, /*recall_only=*/true)) train.insert(row);
  }
  for (uint64_t split : {0, 1})
    for (const auto& row : w.task("recall", 64, split).rows) EXPECT_EQ(train.count(row), 0u);
  EXPECT_NE(w.task("recall", 4, 0).rows, w.task("recall", 4, 1).rows);
}

TEST(DemoWorld, RowsAreWellFormed) {
  const World w(1);
  int kinds[3] = {0, 0, 0};
  for (const auto& row : w.training_batch(0, 0, 256)) {
    ASSERT_EQ(static_cast<int64_t>(row.size()), w.options().seq_len);
    EXPECT_EQ(row[0], kBos);
    for (size_t i = 1; i < row.size(); ++i) ASSERT_TRUE(row[i] >= 3 && row[i] < pair_id(15, 15) + 1) << row[i];
    // The kind is announced by the second word.
    kinds[row[1] == mark_id('=') ? 0 : row[1] == mark_id('~') ? 1 : 2]++;
    EXPECT_EQ(encode(decode(row)), row);  // text round trip
  }
  // The mixture: about half recall, a quarter of each local kind.
  EXPECT_GT(kinds[0], 90);
  EXPECT_GT(kinds[1], 40);
  EXPECT_GT(kinds[2], 40);
}

void check_items(const TaskSet& t) {
  ASSERT_FALSE(t.items.empty());
  for (const Item& it : t.items) {
    const auto& row = t.rows.at(it.row);
    ASSERT_LT(it.pos + 1, static_cast<int64_t>(row.size()));
    ASSERT_EQ(it.choices.size(), 4u);
    EXPECT_EQ(std::set<int32_t>(it.choices.begin(), it.choices.end()).size(), 4u);  // distinct
    ASSERT_GE(it.gold, 0);
    ASSERT_LT(it.gold, 4);
    EXPECT_EQ(it.choices[it.gold], row[it.pos + 1]);  // the gold choice is the text's next word
  }
  // The gold position is spread over the choices (no position bias to exploit).
  int at[4] = {0, 0, 0, 0};
  for (const Item& it : t.items) at[it.gold]++;
  for (int k = 0; k < 4; ++k) EXPECT_GT(at[k], static_cast<int>(t.items.size()) / 8) << t.name;
}

TEST(DemoWorld, RecallAnswersAppearOnlyFarBack) {
  const World w(2);
  const TaskSet t = w.task("recall", 32);
  check_items(t);
  const int64_t far = w.options().min_gap + 2;
  for (const Item& it : t.items) {
    const auto& row = t.rows[it.row];
    const int32_t key = row[it.pos], answer = row[it.pos + 1];
    const int32_t binding = pair_id(key - key_id(0), answer - value_id(0));
    // The answer is bound to the queried key exactly once in the context, at least `far` words
    // before the word to predict; neither the answer nor the key occurs anywhere else before:
    // only recall over the context finds it.
    std::vector<int64_t> where;
    for (int64_t i = 0; i <= it.pos; ++i)
      if (row[i] == binding) where.push_back(i);
    ASSERT_EQ(where.size(), 1u);
    EXPECT_GE(it.pos + 1 - where[0], far);
    EXPECT_EQ(std::count(row.begin(), row.begin() + it.pos + 1, answer), 0);
    EXPECT_EQ(std::count(row.begin(), row.begin() + it.pos + 1, key), 1);  // the query itself
    // Every distractor is bound to another key of the same episode, so it was seen too.
    for (int32_t c : it.choices) {
      int bound = 0;
      for (int k = 0; k < kPairKeys; ++k)
        bound += std::count(row.begin(), row.begin() + it.pos, pair_id(k, c - value_id(0)));
      EXPECT_EQ(bound, 1);
    }
  }
}

TEST(DemoWorld, LocalAnswersFollowFromTheLastFewWords) {
  const World w(3);
  const TaskSet copy = w.task("copy", 32), count = w.task("count", 32);
  check_items(copy);
  check_items(count);
  for (const Item& it : copy.items) {
    const auto& row = copy.rows[it.row];
    // The word to predict repeats one 2-4 words back (the motif's period), and the context
    // already shows that period once.
    bool found = false;
    for (int64_t p = 2; p <= 4 && !found; ++p) {
      bool periodic = it.pos + 1 - p >= 2;
      for (int64_t i = std::max<int64_t>(2, it.pos + 1 - 2 * p); periodic && i + p <= it.pos + 1; ++i)
        periodic = row[i] == row[i + p];
      found = periodic;
    }
    EXPECT_TRUE(found);
  }
  for (const Item& it : count.items) {
    const auto& row = count.rows[it.row];
    // next = last + (last - previous) (mod 10): two words of context suffice.
    const int a = row[it.pos - 1] - digit_id(0), b = row[it.pos] - digit_id(0);
    EXPECT_EQ(row[it.pos + 1] - digit_id(0), ((2 * b - a) % 10 + 10) % 10);
  }
}

TEST(DemoVocab, TokenizerJsonDescribesTheVocabulary) {
  const auto j = tokenizer_json();
  EXPECT_EQ(static_cast<int32_t>(j["model"]["vocab"].size()), vocab_size());
  EXPECT_EQ(j["model"]["merges"].size(), 67u + kPairKeys * kPairValues);
  EXPECT_EQ(j["model"]["vocab"]["\xE2\x96\x81"
                                "a"]
                .get<int>(),
            key_id(0));
  EXPECT_EQ(j["post_processor"]["special_tokens"]["<s>"]["ids"], nlohmann::json::array({kBos}));
  EXPECT_EQ(encode("= aP bC | . b C"), (std::vector<int32_t>{kBos, mark_id('='), pair_id(0, 15), pair_id(1, 2),
                                                             mark_id('|'), mark_id('.'), key_id(1), value_id(2)}));
  EXPECT_EQ(word(pair_id(0, 15)), "aP");
  EXPECT_EQ(encode("aX", false), std::vector<int32_t>{kUnk});  // values past P bind to no key
  EXPECT_EQ(encode("a ?", false), (std::vector<int32_t>{key_id(0), kUnk}));
}

TEST(DemoVocab, LibraryTokenizerEncodesLikeTheWorld) {
  const auto dir = test::temp_dir("demo_tokenizer");
  std::ofstream(dir / "tokenizer.json") << tokenizer_json().dump();
  std::ofstream(dir / "tokenizer_config.json") << tokenizer_config_json().dump();
  const Tokenizer tok = Tokenizer::load(dir);
  const World w(4);
  for (const auto& row : w.training_batch(0, 0, 16)) {
    const std::string text = decode(row);
    EXPECT_EQ(tok.encode(text, /*add_special=*/true), row) << text;
    EXPECT_EQ(tok.decode(row, /*skip_special=*/true), text);
  }
  EXPECT_EQ(tok.vocab_size(), vocab_size());
}

TEST(Demo, QuickRunReportsEveryPhase) {
  // As README's user runs it: the CLI, which prints report.txt's text on stdout.
  HYB_REQUIRE_BINARY(bin);
  const auto dir = test::temp_dir("demo_quick");
  const std::string cmd = "'" + bin + "' demo --quick --no-progress --out '" + dir.string() + "' > '" +
                          (dir / "stdout.txt").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / "report.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json r = nlohmann::json::parse(in);
  std::ifstream printed(dir / "stdout.txt");
  const std::string shown((std::istreambuf_iterator<char>(printed)), std::istreambuf_iterator<char>());
  EXPECT_NE(shown.find(format_report(r)), std::string::npos) << "stdout is not the report:\n" << shown;

  const int64_t L = r["teacher"]["layers"].get<int64_t>();
  ASSERT_EQ(r["tasks"].size(), 3u);
  for (const auto& t : r["tasks"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    for (const char* k : {"base", "p_min", "best", "opt", "full_attention_kept", "all_linear", "trajectory",
                          "hybrid_dir", "hybrid_score", "decode_speedup"})
      EXPECT_TRUE(t.contains(k)) << k;
    const double base = t["base"].get<double>();
    EXPECT_GE(base, 0.0);
    EXPECT_LE(base, 1.0);
    EXPECT_NEAR(t["p_min"].get<double>(), 0.95 * base, 1e-12);
    // M_opt keeps its score above P_min; kept + replaced layers partition the model.
    EXPECT_GE(t["opt"]["score"].get<double>(), t["p_min"].get<double>());
    EXPECT_EQ(static_cast<int64_t>(t["opt"]["layers"].size() + t["full_attention_kept"].size()), L);
    // The exported hybrid, loaded back from disk, scores exactly what the search scored.
    EXPECT_DOUBLE_EQ(t["hybrid_score"].get<double>(), t["opt"]["score"].get<double>());
    const auto cfg = ModelConfig::load(dir / t["hybrid_dir"].get<std::string>());
    EXPECT_EQ(cfg.num_linear_layers(), static_cast<int64_t>(t["opt"]["layers"].size()));
    EXPECT_EQ(t["trajectory"][0]["score"].get<double>(), base);
  }
  const auto& dec = r["decode"];
  ASSERT_EQ(dec["models"].size(), 5u);  // teacher, three hybrids, all linear
  for (const auto& m : dec["models"]) EXPECT_EQ(m["tokens_per_s"].size(), dec["contexts"].size());
  // An all-linear model's cache does not grow with the context; the teacher's does.
  const auto& all = dec["models"][4]["cache_bytes"];
  EXPECT_EQ(all.front(), all.back());
  EXPECT_GT(dec["models"][0]["cache_bytes"].back().get<int64_t>(),
            dec["models"][0]["cache_bytes"].front().get<int64_t>());

  for (const char* f : {"teacher/config.json", "teacher/model.safetensors", "teacher/tokenizer.json",
                        "distill/linear.safetensors", "corpus/train.txt", "report.txt", "search.svg", "placement.svg",
                        "decode.svg", "tasks/recall.jsonl", "search/recall.json", "hybrids/count/config.json"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  // The demo's scorer agrees with the library's evaluation engine (eval/scorer: shared contexts,
  // continuation passes) on an exported hybrid, question by question.
  {
    auto hybrid = CausalLM::load(dir / "hybrids" / "recall");
    const TaskSet t = World(0).task("recall", 6);
    std::vector<eval::TokenRequest> requests;
    for (const Item& it : t.items)
      for (int32_t c : it.choices)
        requests.push_back({std::vector<int32_t>(t.rows[it.row].begin(), t.rows[it.row].begin() + it.pos + 1), {c}});
    eval::PlanOptions plan;
    plan.rewindable = eval::kv_cache_only(*hybrid);
    const auto scores = eval::score_requests(*hybrid, requests, plan);
    const auto chosen = predict(*hybrid, t);
    for (size_t i = 0, k = 0; i < t.items.size(); ++i, k += 4) {
      int64_t best = 0;
      for (int64_t c = 1; c < 4; ++c)
        if (scores[k + c].logprob > scores[k + best].logprob) best = c;
      EXPECT_EQ(best, chosen[i]) << "question " << i;
    }
  }

  const std::string text = format_report(r);
  for (const char* s : {"phase 1", "phase 2", "phase 3", "M_opt", "placement", "recall", "copy", "count"})
    EXPECT_NE(text.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace hyb::demo
