#include "train/params.h"

#include <ATen/ATen.h>

#include "dist/process_group.h"

namespace hyb {

TrainableParams TrainableParams::of(const ParamList& params, at::Device device, const AdamWOptions& adamw) {
  TrainableParams p;
  std::vector<bool> decay;
  for (const auto& [name, t] : params) {
    if (!t->defined()) continue;
    p.names.push_back(name);
    p.slots.push_back(t);
    at::Tensor m = t->detach().to(device, at::kFloat).clone();
    m.set_requires_grad(true);
    p.masters.push_back(m);
    decay.push_back(m.dim() >= 2);
  }
  p.opt = AdamW(p.masters, decay, adamw);
  return p;
}

void TrainableParams::bind(at::ScalarType dtype) {
  for (size_t i = 0; i < slots.size(); ++i) *slots[i] = dtype == at::kFloat ? masters[i] : masters[i].to(dtype);
}

void TrainableParams::unbind() {
  for (size_t i = 0; i < slots.size(); ++i) *slots[i] = masters[i].detach();
}

void TrainableParams::all_reduce_grads(dist::ProcessGroup& group, bool average) {
  std::vector<at::Tensor> grads;
  for (auto& m : masters) grads.push_back(m.grad());
  group.all_reduce(grads, average ? dist::Reduce::kAvg : dist::Reduce::kSum);
}

}  // namespace hyb
