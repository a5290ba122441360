// distill/students: the per-layer students of a distillation run and what acts on all of them:
// teacher capture, held-out evaluation. Internal to distill/ (trainer.cpp). Each student's
// parameters are train/params' fp32 masters bound into its module (bf16 compute on CUDA).
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "distill/distill.h"
#include "model/mixer.h"
#include "train/params.h"

namespace hyb {

class CausalLM;
struct LinearSettings;

// names: local parameter names (module->parameters("")); linear_prefix(layer) makes them global.
struct Student : TrainableParams {
  int64_t layer = 0;
  std::unique_ptr<TokenMixer> module;
};

// One student per layer, initialised from that layer's attention (seed + layer for fresh gates),
// masters on the teacher's device.
std::vector<Student> make_students(CausalLM& teacher, const LinearSettings& settings,
                                   const std::vector<int64_t>& layers, uint64_t seed, const AdamWOptions& adamw);

// The teacher's (mixer input, mixer output) of each layer in `layers` for ids [B,T], computed
// without gradients and stopping after the last layer needed.
struct Captures {
  std::vector<at::Tensor> in, out;  // aligned with `layers`
};
Captures capture(CausalLM& teacher, const at::Tensor& ids, const std::vector<int64_t>& layers);

// Held-out MSE and relative MSE of every student over `seqs` (in batches of `batch`):
//   mse = sum (y - t)^2 / n,   rel = mse / (sum t^2 / n - (sum t / n)^2)   (sums in fp64)
// With a group, rank r takes sequences r, r+N, ... and the sums are added across ranks: every
// rank gets the numbers of the whole set.
std::vector<LayerMetrics> evaluate(CausalLM& teacher, std::vector<Student>& students,
                                   const std::vector<std::vector<int32_t>>& seqs, int64_t batch,
                                   at::ScalarType dtype, dist::ProcessGroup* group = nullptr);

}  // namespace hyb
