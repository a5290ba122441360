// demo/pretrain: trains the demo's teacher, a small Llama-architecture CausalLM, from random
// weights on the world's text with the library's own decoder (CausalLM::forward under autograd):
//
//   loss = -1/(B(T-1)) sum_{b,t} log softmax(f(x_b,<=t))[x_b,t+1]       next-word cross-entropy
//
// on fresh rows each step (the world is unlimited: no epochs, no overfitting), in two phases:
//   1. recall only, until the teacher answers a held-out recall set (dev, not the evaluation
//      set) with accuracy >= mastery, checked every check_every steps, or max_recall_steps;
//   2. the mixture of all kinds (WorldOptions' shares) for mixed_steps.
// Looking a key up is learnt in a jump after a plateau whose length varies from seed to seed
// (from 300 to over 1000 steps here); trained on the mixture from the start, the quickly learnt
// local kinds claim the attention heads first and the jump mostly never comes within minutes.
// Recall first, local kinds second, and the length of phase 1 decided by mastery rather than a
// fixed count, make the teacher reliable. Learning rate: linear warm-up, constant through
// phase 1, cosine down to lr * min_lr_ratio over phase 2. Both phases run on the training core
// (train/: fp32 masters, AdamW, clipping, the step loop).
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

// The teacher's architecture: Llama (RMSNorm, RoPE, SwiGLU with intermediate 3 x hidden, untied
// head), `heads` query heads sharing `kv_heads` key/value heads.
ModelConfig teacher_config(int64_t layers, int64_t hidden, int64_t heads, int64_t kv_heads, int64_t vocab);

// The teacher's starting point, on top of CausalLM::random's N(0, 0.02):
//  - every residual branch starts at zero (W_o of attention and W_down of the MLP), so that the
//    model starts as its embeddings and unembedding and each layer grows in from the identity
//    (as ReZero / SkipInit); with the N(0, 0.02) outputs of every layer added to the residual
//    stream from the start, the lookup recall needs forms much later the deeper the model is;
//  - compound words start as the sum of their parts: the embedding of each pair word "aX" is
//    (E[a] + E[X]) / sqrt(2) (the scale of the other rows), as subword-initialised vocabularies
//    do, so the teacher sees from the start that "aX" is about key a and value X; what it must
//    still learn is to look it up (world.h, recall).
void init_teacher(CausalLM& model);

struct PretrainOptions {
  int64_t batch = 32, warmup = 40;
  int64_t max_recall_steps = 1500, check_every = 50, mixed_steps = 800;
  double mastery = 0.95;
  double lr = 3e-3, min_lr_ratio = 0.05, weight_decay = 0.01, clip = 1.0;
  // Dev-set recall accuracy of the model as it is (phase 1's test).
  std::function<double()> recall_accuracy;
  // Called after every step with (step, phase 1 or 2, loss); e.g. progress output.
  std::function<void(int64_t step, int phase, double loss)> on_step;
};

struct PretrainResult {
  std::vector<double> loss;    // per step, both phases
  int64_t recall_steps = 0;    // length of phase 1
  double recall_accuracy = 0;  // dev accuracy when phase 1 ended
  double seconds = 0;
};

PretrainResult pretrain(CausalLM& model, const World& world, const PretrainOptions& opt);

}  // namespace hyb::demo
