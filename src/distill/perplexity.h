// distill/perplexity: held-out perplexity of a full or hybrid model over packed sequences, to see
// what a distilled layer costs the whole model:  ppl = exp( -(1/N) sum_t log p(x_t | x_<t) ),
// summed over every position t >= 1 of every sequence whose target is not BOS (a BOS after an
// EOS is a packing artefact, not text).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace hyb {

class CausalLM;

struct PerplexityResult {
  double nll = 0;      // summed negative log-likelihood (nats)
  int64_t tokens = 0;  // predicted tokens
  double mean_nll() const { return tokens ? nll / static_cast<double>(tokens) : 0; }
  double ppl() const { return std::exp(mean_nll()); }
};

// `on_batch` (optional) is told the number of sequences scored so far after each batch.
PerplexityResult perplexity(CausalLM& model, const std::vector<std::vector<int32_t>>& seqs, int64_t batch,
                            std::optional<int32_t> bos = std::nullopt,
                            const std::function<void(int64_t)>& on_batch = nullptr);

}  // namespace hyb
