#include "distill/perplexity.h"

#include <ATen/ATen.h>

#include "distill/students.h"
#include "model/model.h"

namespace hyb {

PerplexityResult perplexity(CausalLM& model, const std::vector<std::vector<int32_t>>& seqs, int64_t batch,
                            std::optional<int32_t> bos, const std::function<void(int64_t)>& on_batch) {
  at::NoGradGuard ng;
  PerplexityResult r;
  for (size_t b0 = 0; b0 < seqs.size(); b0 += static_cast<size_t>(batch)) {
    std::vector<std::vector<int32_t>> chunk(seqs.begin() + b0,
                                            seqs.begin() + std::min(seqs.size(), b0 + static_cast<size_t>(batch)));
    at::Tensor ids = ids_tensor(chunk, model.device());
    const int64_t T = ids.size(1);
    // log p(x_t | x_<t) for t = 1..T-1: logits at t-1, fp32.
    at::Tensor logp = at::log_softmax(model.forward(ids).narrow(1, 0, T - 1), -1);
    at::Tensor target = ids.narrow(1, 1, T - 1);
    at::Tensor lp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).to(at::kDouble);
    at::Tensor keep = bos ? target.ne(*bos) : at::ones_like(target, at::kBool);
    r.nll -= lp.masked_select(keep).sum().item<double>();
    r.tokens += keep.sum().item<int64_t>();
    if (on_batch) on_batch(static_cast<int64_t>(b0 + chunk.size()));
  }
  return r;
}

}  // namespace hyb
