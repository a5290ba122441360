#include "model/decode_engine.h"

#include <fmt/core.h>
#include <torch/torch.h>

#include "model/model.h"
#include "util/cuda_graph.h"

namespace hyb {

DecodeEngine::DecodeEngine(CausalLM& model, ModelCache& cache, bool use_graph)
    : model_(model), cache_(cache), graph_(std::make_unique<CudaGraph>()) {
  const int64_t B = static_cast<int64_t>(cache.lengths.size());
  auto opts = at::TensorOptions().dtype(at::kLong).device(model.device());
  ids_ = at::zeros({B, 1}, opts);
  len_ = at::tensor(cache.lengths, at::kLong).to(model.device());
  use_graph_ = use_graph && model.device().is_cuda();
}

DecodeEngine::~DecodeEngine() = default;

bool DecodeEngine::graphed() const { return graph_->captured(); }

at::Tensor DecodeEngine::run() {
  // positions = current lengths; mask_j = 0 if j <= pos else -inf, over the whole cache.
  const int64_t B = ids_.size(0);
  Positions pos;
  pos.pos = len_.view({B, 1});
  pos.start = -1;
  auto j = at::arange(cache_.max_len, len_.options()).view({1, -1});
  pos.static_mask = at::zeros({B, cache_.max_len}, len_.options().dtype(at::kFloat))
                        .masked_fill_(j > pos.pos, -std::numeric_limits<float>::infinity())
                        .view({B, 1, 1, cache_.max_len});
  auto h = model_.run_layers(model_.embed(ids_), 0, model_.num_layers(), pos, &cache_);
  auto logits = model_.logits(h).select(1, 0);
  len_.add_(1);
  return logits;
}

at::Tensor DecodeEngine::step(const at::Tensor& ids) {
  torch::NoGradGuard ng;
  ids_.copy_(ids.view({-1, 1}));
  at::Tensor out;
  // Capture after two eager steps (kernels chosen, workspaces allocated), then replay. The
  // capture itself records without executing, so the step it records is then replayed. A step
  // that cannot be captured runs eagerly from then on.
  if (use_graph_ && steps_ >= 2) {
    if (!graph_->captured()) {
      const std::string why = graph_->capture([&] { logits_ = run(); });
      if (!why.empty()) {
        fmt::print(stderr, "decode: no CUDA graph ({}); decoding step by step\n", why);
        use_graph_ = false;
      }
    }
    if (graph_->captured()) {
      graph_->replay();
      out = logits_;
    }
  }
  if (!out.defined()) out = run();
  ++steps_;
  for (auto& n : cache_.lengths) n += 1;
  return out;
}

}  // namespace hyb
