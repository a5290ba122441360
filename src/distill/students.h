// distill/students: the per-layer students of a distillation run and what acts on all of them:
// teacher capture, held-out evaluation, checkpoints. Internal to distill/ (trainer.cpp).
//
// Precision: every student keeps fp32 master parameters (the leaves that receive gradients and
// AdamW updates). Before a forward, bind() points the module's parameter slots at the masters cast
// to the compute dtype (bf16 on CUDA): the cast is part of the autograd graph, so the backward of a
// bf16 forward lands in the fp32 masters' .grad().
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "distill/adamw.h"
#include "distill/distill.h"
#include "model/mixer.h"

namespace hyb {

class CausalLM;
struct LinearSettings;

struct Student {
  int64_t layer = 0;
  std::unique_ptr<TokenMixer> module;
  std::vector<std::string> names;   // local parameter names (module->parameters(""))
  std::vector<at::Tensor*> slots;   // the module's parameter tensors
  std::vector<at::Tensor> masters;  // fp32 leaves on the device, requires_grad
  AdamW opt;

  // Points the module's slots at the masters in `dtype` (differentiable cast; fp32: the masters).
  void bind(at::ScalarType dtype);
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

// checkpoint.safetensors: "master/", "exp_avg/", "exp_avg_sq/" + model.layers.{l}.linear_attn.<name>,
// with `state` (step, data position, settings fingerprint, ...) as the "state" metadata, so the
// one atomically written file is the whole truth; checkpoint.json is a readable copy of `state`.
void save_checkpoint(const std::filesystem::path& dir, std::vector<Student>& students, const nlohmann::json& state);
nlohmann::json read_checkpoint_state(const std::filesystem::path& dir);
// Restores masters, moments and AdamW step counts; returns the state.
nlohmann::json load_checkpoint(const std::filesystem::path& dir, std::vector<Student>& students);

}  // namespace hyb
