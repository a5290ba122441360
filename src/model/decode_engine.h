// model/decode_engine: the decoding loop's inner step with every shape fixed, so that on CUDA
// the whole step (all layers, hundreds of kernels) is captured once as a CUDA graph and replayed
// per token, removing per-kernel launch overhead, which otherwise dominates decoding at small
// batch. The current lengths live on the device; attention reads the whole preallocated KV
// cache under a length mask; linear layers update their state in place.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>

namespace hyb {

class CausalLM;
class CudaGraph;
class ModelCache;

class DecodeEngine {
 public:
  // `cache` must have been prefilled (its lengths are the positions of the next tokens).
  DecodeEngine(CausalLM& model, ModelCache& cache, bool use_graph);
  ~DecodeEngine();
  // One token per row: ids [B] (any device) -> logits [B,V] fp32 on the model's device.
  // The returned tensor is overwritten by the next call. Advances the cache by one token.
  at::Tensor step(const at::Tensor& ids);
  bool graphed() const;

 private:
  at::Tensor run();  // the step on the static tensors
  CausalLM& model_;
  ModelCache& cache_;
  at::Tensor ids_, len_, logits_;  // static: [B,1] int64, [B] int64, [B,V]
  std::unique_ptr<CudaGraph> graph_;
  bool use_graph_ = false;
  int64_t steps_ = 0;
};

}  // namespace hyb
