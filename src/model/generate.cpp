#include "model/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>

#include "util/device.h"

#include "model/decode_engine.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Next token per row from fp32 logits [B,V]: argmax when greedy, else nucleus sampling
// (keep the smallest set of tokens whose probability mass reaches top_p, renormalise, draw).
at::Tensor choose(const at::Tensor& logits, const GenerateOptions& opt, at::Generator& gen) {
  if (opt.temperature <= 0) return logits.argmax(-1);
  auto probs = at::softmax(logits.to(at::kCPU) / opt.temperature, -1);
  if (opt.top_p < 1.0) {
    auto sorted = probs.sort(-1, /*descending=*/true);
    auto p = std::get<0>(sorted), idx = std::get<1>(sorted);
    auto mass_before = p.cumsum(-1) - p;  // a token is kept if the mass before it is < top_p
    p.masked_fill_(mass_before >= opt.top_p, 0);
    probs = at::zeros_like(probs).scatter_(-1, idx, p);
  }
  return at::multinomial(probs, 1, false, gen).squeeze(-1).to(logits.device());
}

}  // namespace

void check_generation(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerateOptions& opt) {
  for (const auto& p : prompts) {
    if (p.empty()) fail("prompt", "empty prompt (nothing to condition on)");
    for (auto t : p)
      if (t < 0 || t >= model.config().vocab_size)
        fail("prompt", "token id {} is outside the vocabulary (0..{})", t, model.config().vocab_size - 1);
  }
  // The cache holds prompt + new tokens: a count beyond the model's context is refused here, before it
  // sizes an allocation (9223372036854775807 overflowed into a LibTorch trace).
  const int64_t context = model.config().max_position_embeddings;
  if (opt.max_new_tokens < 1 || opt.max_new_tokens > context)
    fail("--max-new-tokens", "must be from 1 to the model's context of {} tokens, got {}", context, opt.max_new_tokens);
}

std::vector<std::vector<int64_t>> generate(CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& opt, const TokenCallback& on_token,
                                           GenerateStats* stats) {
  torch::NoGradGuard no_grad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  if (B == 0) return {};
  check_generation(model, prompts, opt);
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, p.size());
  const int64_t max_len = longest + opt.max_new_tokens;
  auto cache = model.make_cache(B, max_len);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed);
  auto dev = model.device();
  auto sync = [&] { synchronize(dev); };

  // Prefill (CausalLM::prefill: in chunks of prefill_chunk tokens, logits of the last position
  // only); rows of unequal length one at a time into a single-row cache whose state is then copied
  // into the batch cache.
  double t0 = now();
  at::Tensor last_logits;  // [B,V]
  auto prefill = [&](const std::vector<std::vector<int64_t>>& rows, ModelCache& c) {
    const int64_t n = static_cast<int64_t>(rows[0].size());
    std::vector<int64_t> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    auto ids = at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), n}).to(dev);
    return model.prefill(ids, c, opt.prefill_chunk);
  };
  bool same = std::all_of(prompts.begin(), prompts.end(), [&](const auto& p) { return p.size() == prompts[0].size(); });
  if (same) {
    last_logits = prefill(prompts, *cache);
  } else {
    std::vector<at::Tensor> rows;
    for (int64_t b = 0; b < B; ++b) {
      auto one = model.make_cache(1, max_len);
      rows.push_back(prefill({prompts[b]}, *one));
      cache->copy_row(b, *one, 0);
    }
    last_logits = at::cat(rows, 0);
  }
  sync();
  double t1 = now();

  // Decode: one token per row per step; finished rows keep stepping (their output is ignored).
  std::vector<std::vector<int64_t>> out(B);
  std::vector<bool> done(B, false);
  DecodeEngine engine(model, *cache, opt.cuda_graph);
  int64_t decoded = 0;
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    auto next = choose(last_logits, opt, gen).to(at::kCPU);
    auto acc = next.accessor<int64_t, 1>();
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      out[b].push_back(acc[b]);
      if (on_token) on_token(b, acc[b]);
      if (std::find(opt.stop_ids.begin(), opt.stop_ids.end(), acc[b]) != opt.stop_ids.end()) done[b] = true;
      all_done = all_done && done[b];
    }
    if (all_done || step + 1 == opt.max_new_tokens) break;
    last_logits = engine.step(next.to(dev));
    decoded += B;
  }
  sync();
  double t2 = now();
  if (stats) {
    int64_t prompt_tokens = 0;
    for (const auto& p : prompts) prompt_tokens += p.size();
    *stats = GenerateStats{t1 - t0, t2 - t1, prompt_tokens, decoded};
  }
  return out;
}

}  // namespace hyb
