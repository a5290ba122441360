// Running planned batches through the model (see eval/scorer.h for the design).
#include "eval/scorer.h"

#include "io/layers.h"
#include "model/model.h"
#include "util/error.h"

#ifdef HYB_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace hyb::eval {

bool kv_cache_only(const CausalLM& model) {
  for (const auto& t : model.config().layer_types)
    if (t != kFullAttention) return false;
  return true;
}

namespace {

// After a pass over right-padded rows, row r of the cache holds `real` tokens, not the padded
// width: KV caches just forget the padding (MixerCache::rewind).
void rewind_row(ModelCache& cache, int64_t row, int64_t real) {
  if (cache.lengths.at(row) == real) return;
  for (auto& layer : cache.layers)
    TORCH_CHECK(layer->rewind(row, real),
                "eval: a padded context row reached a recurrent cache (plan with rewindable=false)");
  cache.lengths.at(row) = real;
}

// A cache whose row r continues row parent[r].second of caches[parent[r].first], with room for
// `extra` more tokens. When every row comes from one cache whose layers all gather (KV caches)
// this is one gather per layer;
// copy_row (any mixer) costs two copies per row per layer, thousands of kernels on a GPU.
std::unique_ptr<ModelCache> continue_rows(CausalLM& model, const std::vector<std::unique_ptr<ModelCache>>& caches,
                                          const std::vector<std::pair<int64_t, int64_t>>& parent, int64_t extra) {
  const int64_t B = static_cast<int64_t>(parent.size());
  int64_t longest = 0;
  bool one_source = true;
  for (const auto& [q, row] : parent) {
    longest = std::max(longest, caches.at(q)->lengths.at(row));
    one_source = one_source && q == parent[0].first;
  }
  auto cache = model.make_cache(B, longest + extra);
  const ModelCache& src = *caches[parent[0].first];
  bool gathered = one_source;
  for (size_t l = 0; gathered && l < cache->layers.size(); ++l)
    gathered = cache->layers[l]->can_gather(*src.layers[l]);
  if (!gathered) {
    for (int64_t r = 0; r < B; ++r) cache->copy_row(r, *caches[parent[r].first], parent[r].second);
    return cache;
  }
  std::vector<int64_t> rows;
  for (const auto& p : parent) rows.push_back(p.second);
  for (size_t l = 0; l < cache->layers.size(); ++l) cache->layers[l]->gather_rows(*src.layers[l], rows);
  for (int64_t r = 0; r < B; ++r) cache->lengths[r] = src.lengths.at(rows[r]);
  return cache;
}

}  // namespace

std::pair<at::Tensor, at::Tensor> score_pass(const CausalLM& model, const Pass& pass, const at::Tensor& hidden) {
  const auto dev = hidden.device();
  const at::Tensor h = hidden.index({pass.read_row.to(dev), pass.read_pos.to(dev)});  // [M,D]
  const int64_t M = h.size(0), N = pass.target_read.size(0), V = model.config().vocab_size;
  // Logits for at most ~64M entries at a time (a [rows, 152K] fp32 block would not fit).
  const int64_t slice = std::max<int64_t>(1, (int64_t(1) << 26) / V);
  const auto tread = pass.target_read.accessor<int64_t, 1>();
  const at::Tensor tok = pass.target_token.to(dev);
  std::vector<at::Tensor> lps, greedy;
  int64_t n0 = 0;
  for (int64_t m0 = 0; m0 < M; m0 += slice) {
    const int64_t m = std::min(slice, M - m0);
    int64_t n1 = n0;  // targets are sorted by read: those of reads [m0, m0+m) are [n0, n1)
    while (n1 < N && tread[n1] < m0 + m) ++n1;
    if (n1 == n0) continue;
    const at::Tensor logits = model.logits(h.narrow(0, m0, m).unsqueeze(0)).squeeze(0);  // [m,V] fp32
    const at::Tensor at_read = pass.target_read.narrow(0, n0, n1 - n0).to(dev) - m0;
    const at::Tensor t = tok.narrow(0, n0, n1 - n0);
    const at::Tensor lse = at::logsumexp(logits, -1).index_select(0, at_read);
    lps.push_back(logits.index({at_read, t}) - lse);
    greedy.push_back(logits.argmax(-1).index_select(0, at_read) == t);
    n0 = n1;
  }
  TORCH_CHECK(n0 == N, "eval: targets of a pass are not sorted by read position");
  if (lps.empty()) return {at::zeros({0}, at::kDouble), at::zeros({0}, at::kBool)};
  return {at::cat(lps).to(at::kCPU, at::kDouble), at::cat(greedy).to(at::kCPU)};
}

std::vector<Score> accumulate(const Batch& batch, const std::vector<std::pair<at::Tensor, at::Tensor>>& per_pass) {
  std::vector<Score> out(batch.requests.size());
  for (size_t p = 0; p < batch.passes.size(); ++p) {
    const auto req = batch.passes[p].target_request.accessor<int64_t, 1>();
    const auto lp = per_pass[p].first.accessor<double, 1>();
    const auto gr = per_pass[p].second.accessor<bool, 1>();
    for (int64_t n = 0; n < req.size(0); ++n) {
      out[req[n]].logprob += lp[n];
      out[req[n]].greedy = out[req[n]].greedy && gr[n];
    }
  }
  return out;
}

std::vector<Score> run_batch(CausalLM& model, const Batch& batch, const RunHooks& hooks) {
  torch::NoGradGuard no_grad;
  const int64_t L = model.num_layers(), from = hooks.from_layer;
  TORCH_CHECK(from == 0 || hooks.inputs, "eval: starting at layer ", from, " needs the hidden states entering it");
  std::vector<std::unique_ptr<ModelCache>> caches(batch.passes.size());
  std::vector<std::pair<at::Tensor, at::Tensor>> per_pass;
  for (size_t p = 0; p < batch.passes.size(); ++p) {
    const Pass& pass = batch.passes[p];
    const int64_t B = pass.ids.size(0), T = pass.ids.size(1);
    std::unique_ptr<ModelCache> cache;
    if (!pass.parent.empty()) {
      cache = continue_rows(model, caches, pass.parent, T);
    } else if (pass.keep_cache) {
      cache = model.make_cache(B, T);
    }
    const Positions pos = model.positions(B, T, cache.get());
    at::Tensor h = hooks.inputs ? (*hooks.inputs).at(p) : model.embed(pass.ids.to(model.device()));
    const int64_t cap = hooks.captured ? hooks.capture_layer : -1;
    if (hooks.captured_all) {
      hooks.captured_all->emplace_back();
      for (int64_t l = from; l < L; ++l) {
        hooks.captured_all->back().push_back(h);
        if (l + 1 < L || !hooks.capture_only) h = model.layer_forward(l, h, pos, cache.get());
      }
    } else if (cap >= from && cap <= L) {
      h = model.run_layers(h, from, cap, pos, cache.get());
      hooks.captured->push_back(h);
      h = model.run_layers(h, cap, L, pos, cache.get());
    } else {
      h = model.run_layers(h, from, L, pos, cache.get());
    }
    if (cache && pass.keep_cache) {  // only a cache a later pass continues needs its rows rewound
      for (int64_t r = 0; r < B; ++r) {
        cache->lengths[r] += T;
        rewind_row(*cache, r, cache->lengths[r] - T + pass.lengths[r]);
      }
    }
    if (!hooks.capture_only) per_pass.push_back(score_pass(model, pass, h));
    if (pass.keep_cache) caches[p] = std::move(cache);
  }
  if (hooks.capture_only) return {};
  return accumulate(batch, per_pass);
}

std::vector<Score> score_requests(CausalLM& model, const std::vector<TokenRequest>& requests, const PlanOptions& opt,
                                  const std::function<void(const Batch&)>& on_batch) {
  const int64_t V = model.config().vocab_size;
  for (const auto& r : requests)
    for (const auto* part : {&r.context, &r.continuation})
      for (int32_t id : *part)
        if (id < 0 || id >= V)
          fail("tokenizer", "token id {} is outside the model's vocabulary of {} (tokenizer and model differ?)", id, V);
  PlanOptions o = opt;
  o.rewindable = o.rewindable && kv_cache_only(model);
  std::vector<Score> out(requests.size());
  for (const auto& batch : plan_batches(requests, o)) {
    const auto scores = run_batch(model, batch);
    for (size_t i = 0; i < scores.size(); ++i) out[batch.requests[i]] = scores[i];
    if (on_batch) on_batch(batch);
  }
  return out;
}

int64_t auto_token_budget(const CausalLM& model, int64_t longest) {
  // CPU: larger batches only add memory traffic once matrices are this tall (stories260K runs
  // arc_easy in ~20% less CPU time at 1024 padded tokens than at 4096, ~35% less than at 8192).
  if (!model.device().is_cuda()) return 1024;
#ifdef HYB_WITH_CUDA
  c10::cuda::CUDACachingAllocator::emptyCache();
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return 4096;
  const auto& c = model.config();
  const int64_t e = static_cast<int64_t>(c10::elementSize(model.dtype()));
  // Bytes per token of a row of `longest` tokens: activations (hidden, q/k/v/o, the MLP's three
  // [I] tensors), fp32 attention scores and probabilities over the row, and the KV cache twice
  // (kept for the context pass, copied for the continuation pass).
  const int64_t per_token = e * (6 * c.hidden_size + 4 * c.num_heads * c.head_dim + 3 * c.intermediate_size) +
                            8 * c.num_heads * longest + 4 * e * c.num_kv_heads * c.head_dim * c.num_layers;
  const int64_t usable = static_cast<int64_t>(free_b) - (int64_t(1) << 30);  // logits slices, workspace
  return std::clamp<int64_t>(usable / 2 / std::max<int64_t>(per_token, 1), 256, int64_t(1) << 20);
#else
  return 4096;
#endif
}

}  // namespace hyb::eval
