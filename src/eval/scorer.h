// eval/scorer: the one scoring engine. Token requests -> log p(continuation | context) and
// is_greedy, many requests per forward pass, every distinct context computed once.
//
// A plan is a list of batches; a batch is a few forward passes over right-padded rows (padding
// after a row's real tokens never changes them in a causal model):
//   1. the context pass: each distinct context once; its last position predicts the first
//      token of every continuation that follows it (often the only token: " A", " yes");
//   2. the continuation pass: cont[:-1] of every longer continuation, each row continuing a
//      copy (ModelCache::copy_row) of its context's cache row.
// A pass lists the positions it reads and the (token, request) scored at each; score_pass()
// turns a pass's final hidden states into those log-probabilities, so a caller (the greedy layer
// search) can keep the hidden states entering layer l and re-run only layers l..L-1 (RunHooks).
//
// Right-padded context rows leave garbage at the end of a cache row. KV caches are rewound to
// each row's real length; recurrent states (linear layers) cannot be, so for hybrid models the
// planner puts only contexts of equal length in one context pass (plan with rewindable=false).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "eval/requests.h"

namespace hyb {
class CausalLM;
}

namespace hyb::eval {

struct Score {
  double logprob = 0;  // sum of log-softmax over the continuation tokens
  bool greedy = true;  // every continuation token is the argmax
};

struct Pass {
  at::Tensor ids;                // [B,T] int64 (CPU), right-padded with 0
  std::vector<int64_t> lengths;  // real tokens per row
  // Per row: (earlier pass, row) whose cache this row continues; empty: rows start at position 0.
  std::vector<std::pair<int64_t, int64_t>> parent;
  bool keep_cache = false;  // a later pass continues rows of this one
  // Positions whose next-token distribution is read: [M] int64 each.
  at::Tensor read_row, read_pos;
  // Targets: [N] int64 each: index into the reads, the token scored, the request (index into
  // Batch::requests) it belongs to.
  at::Tensor target_read, target_token, target_request;
};

struct Batch {
  std::vector<Pass> passes;
  std::vector<int64_t> requests;  // indices into the planned request list
  int64_t padded_tokens = 0;      // sum over passes of B*T (cost, for progress reports)
};

struct PlanOptions {
  int64_t max_requests = 0;     // per batch; 0 = no limit (the harness's --batch_size N)
  int64_t max_tokens = 4096;    // padded tokens per batch, all passes together
  bool share_contexts = true;   // false: one row per request, context + continuation (harness layout)
  bool rewindable = true;       // every layer's cache is a KV cache (see kv_cache_only)
};

// Batches covering every request exactly once, longest contexts first.
std::vector<Batch> plan_batches(const std::vector<TokenRequest>& requests, const PlanOptions& opt);

// Hooks for callers that start or stop at a layer.
struct RunHooks {
  int64_t from_layer = 0;                           // run layers [from_layer, L) ...
  const std::vector<at::Tensor>* inputs = nullptr;  // ... on these hidden states, one per pass
  int64_t capture_layer = -1;                       // record the hidden states entering this layer
  std::vector<at::Tensor>* captured = nullptr;      // (L: the last layer's output) one per pass
  // Record the hidden states entering every layer from_layer..L-1: per pass, one per layer
  // (the greedy search's prefix cache).
  std::vector<std::vector<at::Tensor>>* captured_all = nullptr;
  // With captured_all: only capture. The last layer's output and the scores are not computed
  // (nobody needs them: the prefix cache's model has already been scored), and run_batch
  // returns no scores.
  bool capture_only = false;
};

// Scores of a batch's requests, in Batch::requests order.
std::vector<Score> run_batch(CausalLM& model, const Batch& batch, const RunHooks& hooks = {});

// log p and is-argmax of every target of a pass from its final hidden states [B,T,D] (before
// the final norm), computed in slices so that [rows, vocab] logits never get large. CPU tensors
// [N] (double, bool).
std::pair<at::Tensor, at::Tensor> score_pass(const CausalLM& model, const Pass& pass, const at::Tensor& hidden);
// Sums a batch's per-pass target scores into per-request scores.
std::vector<Score> accumulate(const Batch& batch, const std::vector<std::pair<at::Tensor, at::Tensor>>& per_pass);

// Scores every request: plans, runs each batch, calls `on_batch` after each (progress).
std::vector<Score> score_requests(CausalLM& model, const std::vector<TokenRequest>& requests, const PlanOptions& opt,
                                  const std::function<void(const Batch&)>& on_batch = nullptr);

// Whether every layer's cache can be rewound (all layers full attention).
bool kv_cache_only(const CausalLM& model);
// Padded tokens per batch for --batch-size auto: from free device memory on CUDA (for rows of
// up to `longest` tokens), 1024 on CPU.
int64_t auto_token_budget(const CausalLM& model, int64_t longest);

}  // namespace hyb::eval
