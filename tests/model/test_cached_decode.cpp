// Batched cached decoding equals recomputing the whole sequence at every step: same greedy
// tokens and logits within float tolerance, with prompts of different lengths in one batch,
// for full, mixed and all-linear models. The cache reports exactly the bytes it allocated.
#include <torch/torch.h>

#include "../test_util.h"
#include "linear/linear.h"
#include "model/generate.h"
#include "model/model.h"

namespace hyb {
namespace {

// 4 heads (2 kv heads) of hidden / 4.
ModelConfig small_config(int64_t hidden = 64) {
  nlohmann::json j = {{"model_type", "qwen2"}, {"hidden_size", hidden}, {"intermediate_size", 96},
                      {"num_hidden_layers", 4}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                      {"vocab_size", 97}, {"max_position_embeddings", 256}, {"rope_theta", 10000.0}};
  return ModelConfig::from_json(j, "test config");
}

// Greedy continuation recomputed from scratch at every step (no cache at all).
std::vector<int64_t> greedy_by_recompute(CausalLM& m, std::vector<int64_t> seq, int64_t n,
                                         std::vector<at::Tensor>* step_logits) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) {
    auto logits = m.forward(at::tensor(seq, at::kLong).view({1, -1})).select(1, -1).squeeze(0);
    step_logits->push_back(logits);
    int64_t next = logits.argmax().item<int64_t>();
    out.push_back(next);
    seq.push_back(next);
  }
  return out;
}

void check_cached_equals_recompute(CausalLM& m) {
  torch::NoGradGuard ng;
  const std::vector<std::vector<int64_t>> prompts = {{5, 17, 3, 88, 41, 9, 60}, {12, 1}, {33, 70, 2, 2, 19}};
  const int64_t n = 12;
  GenerateOptions g;
  g.max_new_tokens = n;
  g.prefill_chunk = 3;  // chunked prefill exercises cache continuation
  auto batched = generate(m, prompts, g);
  for (size_t b = 0; b < prompts.size(); ++b) {
    std::vector<at::Tensor> ref_logits;
    auto want = greedy_by_recompute(m, prompts[b], n, &ref_logits);
    EXPECT_EQ(batched[b], want) << "row " << b;
  }
  // Logits: drive the cache step by step with the recomputed tokens (row by row in one batch).
  auto cache = m.make_cache(prompts.size(), 64);
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto one = m.make_cache(1, 64);
    m.forward(at::tensor(prompts[b], at::kLong).view({1, -1}), one.get());
    cache->copy_row(b, *one, 0);
  }
  std::vector<std::vector<int64_t>> seqs = prompts;
  for (int64_t i = 0; i < 4; ++i) {
    std::vector<int64_t> next;
    for (auto& s : seqs) next.push_back((s.back() * 7 + i) % 97);
    auto logits = m.forward(at::tensor(next, at::kLong).view({-1, 1}), cache.get());
    for (size_t b = 0; b < seqs.size(); ++b) {
      seqs[b].push_back(next[b]);
      auto full = m.forward(at::tensor(seqs[b], at::kLong).view({1, -1})).select(1, -1).squeeze(0);
      EXPECT_LE((logits[b][0] - full).abs().max().item<double>(), 1e-4) << "row " << b << " step " << i;
    }
  }
  // Reported cache sizes are the allocated bytes, and known before allocating.
  int64_t allocated = 0;
  for (const auto& l : cache->layers) allocated += l->bytes();
  EXPECT_EQ(cache->bytes(), allocated);
  EXPECT_EQ(m.cache_bytes(prompts.size(), 64, m.dtype()), allocated);
}

TEST(CachedDecode, FullAttention) {
  auto m = CausalLM::random(small_config(), 1);
  check_cached_equals_recompute(*m);
}

void replace_layers(CausalLM& m, const std::string& kind, const std::vector<int64_t>& layers) {
  auto s = LinearSettings::for_model(kind, m.config());
  for (int64_t l : layers)
    m.set_mixer(l, make_linear_mixer_from_attention(s, m.attention_weights(l), 10 + l), s.to_json());
}

TEST(CachedDecode, MixedAndAllLinear) {
  for (const char* kind : {"gla", "gdn", "jet"}) {
    SCOPED_TRACE(kind);
    auto mixed = CausalLM::random(small_config(), 2);
    replace_layers(*mixed, kind, {1, 3});
    check_cached_equals_recompute(*mixed);
    auto all = CausalLM::random(small_config(), 3);
    replace_layers(*all, kind, {0, 1, 2, 3});
    check_cached_equals_recompute(*all);
  }
}

// The same on the GPU (run there by scripts/gpu_run.sh check), fp32, head dim 64: the fused decoding
// step of each linear kind, the prefill's causal attention reading grouped heads in place (a prompt's
// first chunk) and its masked path (later chunks, ragged rows) against recomputation.
TEST(CudaCachedDecode, MixedAndAllLinear) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto full = CausalLM::random(small_config(256), 1, at::kFloat, at::kCUDA);
  check_cached_equals_recompute(*full);
  for (const char* kind : {"gla", "gdn", "jet"}) {
    SCOPED_TRACE(kind);
    auto mixed = CausalLM::random(small_config(256), 2, at::kFloat, at::kCUDA);
    replace_layers(*mixed, kind, {1, 3});
    check_cached_equals_recompute(*mixed);
    auto all = CausalLM::random(small_config(256), 3, at::kFloat, at::kCUDA);
    replace_layers(*all, kind, {0, 1, 2, 3});
    check_cached_equals_recompute(*all);
  }
}

// Prefill returns the last position's logits of a full forward, in one chunk or several, and
// advances the cache by the prompt.
TEST(CachedDecode, PrefillReturnsTheLastLogits) {
  torch::NoGradGuard ng;
  auto m = CausalLM::random(small_config(), 4);
  replace_layers(*m, "gdn", {2});
  auto ids = at::tensor(std::vector<int64_t>{5, 17, 3, 88, 41, 9, 60, 12, 1, 33, 70, 2, 4, 8}, at::kLong).view({2, 7});
  auto want = m->forward(ids).select(1, -1);
  for (int64_t chunk : {0, 3, 7}) {
    auto cache = m->make_cache(2, 16);
    auto got = m->prefill(ids, *cache, chunk);
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-5) << "chunk " << chunk;
    EXPECT_EQ(cache->lengths, (std::vector<int64_t>{7, 7}));
  }
  EXPECT_EQ(CausalLM::default_prefill_chunk(at::kCPU, 100000), 2048);
  EXPECT_EQ(CausalLM::default_prefill_chunk(at::Device("cuda"), 100000), 100000);
}

// The same on Hugging Face's tiny checkpoints (Qwen2 with q/k/v biases, Llama-3 with GQA): the
// real weights, some layers swapped for modules initialised from their attention, others kept.
TEST(CachedDecode, HfFixturesWithLinearLayers) {
  HYB_REQUIRE_SHARED(fixtures, "data/fixtures");
  for (const char* name : {"tiny-qwen2", "tiny-llama3"})
    for (const char* kind : {"gla", "gdn", "jet"}) {
      SCOPED_TRACE(std::string(name) + " " + kind);
      auto m = CausalLM::load(fixtures / name, LoadOptions{});
      replace_layers(*m, kind, {0, 2});
      check_cached_equals_recompute(*m);
    }
}

}  // namespace
}  // namespace hyb
