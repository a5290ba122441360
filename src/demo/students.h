// demo/students: phase 1 of the method on the demo's teacher, blockwise local distillation (BLD),
// as a minimal loop. For every layer l a linear module S_l, initialised from the layer's
// attention A_l (make_linear_mixer_from_attention), sees what A_l sees in the frozen teacher,
// x_l = RMSNorm_l(h_{l-1}), captured with the forward pass's MixerHook, and learns
//
//   loss_l = mean (A_l(x_l) - S_l(x_l))^2,    relative MSE = loss_l / Var(A_l(x_l))
//
// One teacher forward feeds every student; each student takes its own step. The library's
// trainer (distill/, `hybridize distill`) adds what long runs need (corpus streaming,
// checkpoints, resume, bf16 masters); the demo's teacher and text fit in memory, so this loop
// is all it needs. Seam: run_distill(DistillOptions{model_dir, data, ...}) replaces it once the
// world's text is written as a corpus file.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "linear/linear.h"

namespace hyb {
class CausalLM;
}

namespace hyb::demo {

class World;

struct StudentOptions {
  int64_t steps = 400, batch = 16, warmup = 20;
  double lr = 3e-3, min_lr_ratio = 0.1, weight_decay = 0.0, clip = 1.0;
  int64_t eval_batch = 64;  // held-out rows for the relative MSE
  uint64_t seed = 0;
  std::function<void(int64_t step, double mean_rel_loss)> on_step;
};

struct StudentResult {
  std::vector<std::unique_ptr<TokenMixer>> modules;  // one per layer
  std::vector<double> rel_mse_start, rel_mse_end;    // held-out, per layer
  std::vector<std::vector<double>> loss;             // [layer][step] training relative MSE
  double seconds = 0;
};

StudentResult distill_students(CausalLM& teacher, const LinearSettings& settings, const World& world,
                               const StudentOptions& opt);

}  // namespace hyb::demo
