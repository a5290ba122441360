// The search's scorer on a real model: prefix-cached candidate scores equal uncached ones
// exactly, and an exported hybrid scores exactly what the search reported for it.
#include <torch/torch.h>

#include <fstream>

#include "../test_util.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "search/export.h"
#include "search/task_scorer.h"
#include "tokenizer/tokenizer.h"

namespace hyb {
namespace {

TEST(TaskScorer, PrefixCacheAndExportChangeNoScore) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  torch::NoGradGuard ng;
  auto tmp = test::temp_dir("task_scorer");
  auto model = CausalLM::load(dir);
  auto tok = Tokenizer::load(dir);
  auto enc = eval::TextEncoder::from(tok);

  // Freshly initialised GDN modules for every layer, saved as `hybridize distill` saves them.
  auto s = LinearSettings::for_model("gdn", model->config());
  std::vector<std::unique_ptr<TokenMixer>> keep;
  std::map<int64_t, TokenMixer*> modules;
  for (int64_t l = 0; l < model->num_layers(); ++l) {
    keep.push_back(make_linear_mixer_from_attention(s, model->attention_weights(l), 7 + l));
    modules[l] = keep.back().get();
  }
  save_linear_layers(tmp / "linear.safetensors", s, modules, model_fingerprint(dir), dir.string());

  // A loglikelihood task (perplexity: a continuous score, so equality means equal numbers).
  {
    std::ofstream f(tmp / "ll.jsonl");
    f << R"({"context": "Once upon a time, there was a little", "continuation": " girl named Lily."})" << "\n"
      << R"({"context": "The cat sat on the", "continuation": " mat and looked at the big red ball."})" << "\n"
      << R"({"context": "Tom and Sue went to the park. They", "continuation": " played with a ball."})" << "\n";
  }
  auto task = eval::generic_task("ll", tmp / "ll.jsonl");
  eval::EvalOptions opt;
  opt.progress = false;
  opt.max_tokens = 64;  // several batches

  double base, one, c13, c23, c24, d13;
  {  // a scorer puts the model back to full attention when it goes
    TaskScorer cached(*model, tmp / "linear.safetensors", enc, task, opt, "perplexity", true);
    base = cached.score({}, {});
    one = cached.score({2}, {});
    EXPECT_DOUBLE_EQ(cached.full_forwards(), 1.0 + (4 + 3) / 5.0);  // base; capture of {} (4 layers), layers 2-4
    c13 = cached.score({1, 2}, {2}), c23 = cached.score({2, 3}, {2}), c24 = cached.score({2, 4}, {2});
    // One capture without the last layer (4 of 5 layers), then layers 1-4, 3-4 and 4 only.
    EXPECT_DOUBLE_EQ(cached.full_forwards(), 1.0 + (4 + 3) / 5.0 + (4 + 4 + 2 + 1) / 5.0);
    // A round whose candidates would save 1 layer for a 4-layer capture runs without the cache.
    const double before = cached.full_forwards();
    cached.plan_round({{0, 3}, {1, 3}}, {3});
    d13 = cached.score({1, 3}, {3});
    EXPECT_DOUBLE_EQ(cached.full_forwards() - before, 1.0);
  }
  TaskScorer plain(*model, tmp / "linear.safetensors", enc, task, opt, "perplexity", false);
  EXPECT_EQ(plain.score({}, {}), base);
  EXPECT_EQ(plain.score({2}, {}), one);
  EXPECT_EQ(plain.score({1, 2}, {2}), c13);
  EXPECT_EQ(plain.score({2, 3}, {2}), c23);
  EXPECT_EQ(plain.score({2, 4}, {2}), c24);
  EXPECT_EQ(plain.score({1, 3}, {3}), d13);
  EXPECT_NE(base, one);  // the swap does change the model

  // The exported hybrid, loaded like any model, scores what the search saw.
  export_hybrid(dir, tmp / "linear.safetensors", {2, 3}, tmp / "hybrid");
  auto hybrid = CausalLM::load(tmp / "hybrid");
  EXPECT_EQ(hybrid->config().num_linear_layers(), 2);
  auto r = eval::evaluate_task(*hybrid, enc, task, opt);
  double ppl = -1;
  for (const auto& m : r.metrics)
    if (m.name == "perplexity") ppl = m.value;
  EXPECT_NEAR(ppl, c23, 1e-9 * c23);
}

}  // namespace
}  // namespace hyb
