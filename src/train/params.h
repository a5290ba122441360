// train/params: the parameters a run trains, whatever module owns them.
//
// Precision: each keeps an fp32 master (the leaf that receives gradients and AdamW updates).
// Before a forward, bind() points the module's parameter slots at the masters cast to the
// compute dtype (bf16 on CUDA): the cast is part of the autograd graph, so the backward of a bf16
// forward lands in the fp32 masters' .grad(). In fp32 the slots hold the masters themselves.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "model/module.h"
#include "train/adamw.h"

namespace hyb {

namespace dist {
class ProcessGroup;
}

struct TrainableParams {
  std::vector<std::string> names;   // as the module lists them
  std::vector<at::Tensor*> slots;   // the module's parameter tensors
  std::vector<at::Tensor> masters;  // fp32 leaves on `device`, requires_grad
  AdamW opt;                        // matrices decay; gains, biases and gate offsets do not

  // Fresh fp32 copies (never views of a mapped file's memory) of every defined tensor of `params`.
  static TrainableParams of(const ParamList& params, at::Device device, const AdamWOptions& adamw);
  // Points the slots at the masters in `dtype` (differentiable cast; fp32: the masters).
  void bind(at::ScalarType dtype);
  // Points the slots at the masters, detached (to save them, or to stop training them).
  void unbind();
  // Data parallel: every rank's gradients replaced by their reduction over the ranks (one
  // packed collective), before clipping, so that every rank takes the same update.
  void all_reduce_grads(dist::ProcessGroup& group, bool average);
};

}  // namespace hyb
