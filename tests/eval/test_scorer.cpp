// The batched scorer against a plain single-sequence forward of each request (padding, shared
// contexts, cache copies and batch boundaries must change nothing), on the real stories260K
// model with its tokenizer and on the tiny-qwen2 fixture with the Qwen2 tokenizer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "../test_util.h"
#include "eval/scorer.h"
#include "eval/task.h"
#include "linear/linear.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace hyb::eval {
namespace {

// log p(cont | ctx) from one unpadded forward of ctx + cont[:-1].
Score reference(CausalLM& m, const TokenRequest& r) {
  std::vector<int64_t> ids(r.context.begin(), r.context.end());
  ids.insert(ids.end(), r.continuation.begin(), r.continuation.end() - 1);
  auto lp = at::log_softmax(m.forward(at::tensor(ids, at::kLong).view({1, -1}))[0], -1);
  Score s;
  for (size_t j = 0; j < r.continuation.size(); ++j) {
    const int64_t pos = static_cast<int64_t>(r.context.size() + j) - 1;
    s.logprob += lp[pos][r.continuation[j]].item<double>();
    s.greedy = s.greedy && lp[pos].argmax().item<int64_t>() == r.continuation[j];
  }
  return s;
}

// Requests from real task documents: shared contexts with one- and many-token continuations
// (arc, boolq), distinct contexts with a shared continuation (winogrande), one request per
// document (lambada), truncated to a `window`-token model window.
std::vector<TokenRequest> task_requests(const TextEncoder& enc, int64_t window) {
  const auto dir = test::shared_path("data/tasks");
  std::vector<TokenRequest> out;
  for (const auto& [name, n] : std::vector<std::pair<std::string, int64_t>>{
           {"arc_easy", 6}, {"boolq", 2}, {"winogrande", 4}, {"lambada_openai", 3}, {"commonsense_qa", 2}}) {
    const TaskSpec& t = find_task(name);
    auto docs = load_task_docs(t, task_file(t, dir, t.split), n);
    for (const auto& inst : build_instances(t, docs))
      for (const auto& req : inst.requests) {
        auto r = encode_request(req, enc, name);
        truncate_request(r, window, name);
        out.push_back(r);
      }
  }
  return out;
}

void check_against_reference(CausalLM& model, const std::vector<TokenRequest>& reqs) {
  torch::NoGradGuard ng;
  std::vector<Score> want;
  for (const auto& r : reqs) want.push_back(reference(model, r));
  struct Layout {
    const char* name;
    PlanOptions opt;
  };
  std::vector<Layout> layouts = {
      {"shared, one batch", {0, 1 << 30, true, true}},
      {"shared, small batches", {0, 300, true, true}},
      {"shared, 3 requests per batch", {3, 1 << 30, true, true}},
      {"shared, equal-length context passes", {0, 400, true, false}},
      {"one row per request", {0, 500, false, true}},
  };
  for (const auto& l : layouts) {
    auto got = score_requests(model, reqs, l.opt);
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, std::abs(got[i].logprob - want[i].logprob));
      EXPECT_NEAR(got[i].logprob, want[i].logprob, 1e-4) << l.name << " request " << i;
      EXPECT_EQ(got[i].greedy, want[i].greedy) << l.name << " request " << i;
    }
    PlanOptions used = l.opt;  // as score_requests plans it
    used.rewindable = used.rewindable && kv_cache_only(model);
    std::cout << "[ info ] " << l.name << ": " << plan_batches(reqs, used).size()
              << " batches, max |dll| = " << worst << "\n";
  }
}

TEST(EvalScorer, Stories260KMatchesSingleSequenceForward) {
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  auto model = CausalLM::load(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  auto reqs = task_requests(TextEncoder::from(tok), 96);  // boolq passages get truncated
  bool truncated = false;
  for (const auto& r : reqs) truncated = truncated || r.context.size() + r.continuation.size() == 97;
  EXPECT_TRUE(truncated);
  check_against_reference(*model, reqs);
}

TEST(EvalScorer, TinyQwen2MatchesSingleSequenceForward) {
  HYB_REQUIRE_SHARED(dir, "data/fixtures/tiny-qwen2");
  HYB_REQUIRE_SHARED(tok_dir, "data/tokenizers/qwen2");
  auto model = CausalLM::load(dir);
  const Tokenizer tok = Tokenizer::load(tok_dir);
  // The fixture's vocabulary has 512 entries: real Qwen2 ids are folded into it (the ids'
  // meaning does not matter here, their positions and the batching do).
  TextEncoder enc = TextEncoder::from(tok);
  auto inner = enc.encode;
  enc.encode = [inner](const std::string& s, bool special) {
    auto ids = inner(s, special);
    for (auto& id : ids) id %= 512;
    return ids;
  };
  enc.prefix_token %= 512;
  check_against_reference(*model, task_requests(enc, 128));
}

TEST(EvalScorer, HybridModelsMatchSingleSequenceForward) {
  // Linear layers keep recurrent states that padding would corrupt: score_requests plans
  // equal-length context passes for them; continuation rows are still right-padded.
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  const Tokenizer tok = Tokenizer::load(dir);
  auto reqs = task_requests(TextEncoder::from(tok), 96);
  for (const char* kind : {"gla", "gdn", "jet"}) {
    SCOPED_TRACE(kind);
    auto model = CausalLM::load(dir);
    auto s = LinearSettings::for_model(kind, model->config());
    for (int64_t l : {1, 3})
      model->set_mixer(l, make_linear_mixer_from_attention(s, model->attention_weights(l), 7 + l), s.to_json());
    ASSERT_FALSE(kv_cache_only(*model));
    check_against_reference(*model, reqs);
  }
}

TEST(EvalScorer, RerunFromCapturedLayer) {
  // The greedy layer search's use: keep the hidden states entering layer l, run l..L-1 again.
  HYB_REQUIRE_SHARED(dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(tasks, "data/tasks");
  torch::NoGradGuard ng;
  auto model = CausalLM::load(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  auto reqs = task_requests(TextEncoder::from(tok), 96);
  PlanOptions opt;
  opt.max_tokens = 400;
  for (const auto& batch : plan_batches(reqs, opt)) {
    std::vector<at::Tensor> h3;
    RunHooks capture;
    capture.capture_layer = 3;
    capture.captured = &h3;
    auto full = run_batch(*model, batch, capture);
    ASSERT_EQ(h3.size(), batch.passes.size());
    RunHooks resume;
    resume.from_layer = 3;
    resume.inputs = &h3;
    auto again = run_batch(*model, batch, resume);
    for (size_t i = 0; i < full.size(); ++i) {
      EXPECT_NEAR(again[i].logprob, full[i].logprob, 1e-5);
      EXPECT_NEAR(full[i].logprob, reference(*model, reqs[batch.requests[i]]).logprob, 1e-4);
    }
  }
}

TEST(EvalScorer, PlanSharesContexts) {
  // Three requests on one context and one on another: two context rows, and a continuation row
  // only for continuations longer than one token.
  std::vector<TokenRequest> reqs = {{{1, 5, 6}, {7}}, {{1, 5, 6}, {8, 9}}, {{1, 5, 6}, {10, 11, 12}}, {{1, 4}, {7}}};
  auto plan = plan_batches(reqs, PlanOptions{});
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_EQ(plan[0].passes.size(), 2u);
  EXPECT_EQ(plan[0].passes[0].ids.size(0), 2);  // two distinct contexts
  EXPECT_EQ(plan[0].passes[1].ids.size(0), 2);  // two multi-token continuations
  EXPECT_EQ(plan[0].passes[1].ids.size(1), 2);  // longest cont[:-1]
  EXPECT_EQ(plan[0].padded_tokens, 2 * 3 + 2 * 2);
  PlanOptions rows;
  rows.share_contexts = false;
  EXPECT_EQ(plan_batches(reqs, rows)[0].passes[0].ids.size(0), 4);
}

}  // namespace
}  // namespace hyb::eval
