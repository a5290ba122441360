// demo/pretrain: trains the demo's teacher, a small Llama-architecture CausalLM, from random
// weights on the world's text with the library's own decoder (CausalLM::forward under autograd):
//
//   loss = -1/(B(T-1)) sum_{b,t} log softmax(f(x_b,<=t))[x_b,t+1]       next-word cross-entropy
//
// on fresh rows each step (the world is unlimited, so there are no epochs and no overfitting).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "io/config.h"

namespace hyb {
class CausalLM;
}

namespace hyb::demo {

class World;

// The teacher's architecture: Llama, untied head, GQA (2 query heads per kv head), RoPE.
ModelConfig teacher_config(int64_t layers, int64_t hidden, int64_t heads, int64_t vocab);

struct PretrainOptions {
  int64_t steps = 1500, batch = 32, warmup = 60;
  double lr = 3e-3, min_lr_ratio = 0.05, weight_decay = 0.01, clip = 1.0;
  // Called after every step with (step, loss); e.g. progress output.
  std::function<void(int64_t step, double loss)> on_step;
};

struct PretrainResult {
  std::vector<double> loss;  // per step
  double seconds = 0;
};

PretrainResult pretrain(CausalLM& model, const World& world, const PretrainOptions& opt);

}  // namespace hyb::demo
