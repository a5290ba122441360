#include "demo/pretrain.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "demo/vocab.h"
#include "demo/world.h"
#include "model/model.h"
#include "train/loop.h"
#include "train/params.h"
#include "train/schedule.h"

namespace hyb::demo {

ModelConfig teacher_config(int64_t layers, int64_t hidden, int64_t heads, int64_t kv_heads, int64_t vocab) {
  nlohmann::json j = {{"architectures", {"LlamaForCausalLM"}},
                      {"model_type", "llama"},
                      {"hidden_size", hidden},
                      {"intermediate_size", 3 * hidden},
                      {"num_hidden_layers", layers},
                      {"num_attention_heads", heads},
                      {"num_key_value_heads", kv_heads},
                      {"head_dim", hidden / heads},
                      {"vocab_size", vocab},
                      {"max_position_embeddings", 65536},
                      {"rms_norm_eps", 1e-5},
                      {"rope_theta", 10000.0},
                      {"tie_word_embeddings", false},
                      {"attention_bias", false},
                      {"hidden_act", "silu"},
                      {"bos_token_id", 0},
                      {"eos_token_id", 1},
                      {"torch_dtype", "float32"}};
  return ModelConfig::from_json(j, "demo teacher config");
}

void init_teacher(CausalLM& model) {
  torch::NoGradGuard no_grad;
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (auto& [name, t] : model.parameters()) {
    if (ends_with(name, "self_attn.o_proj.weight") || ends_with(name, "mlp.down_proj.weight")) t->zero_();
    if (name != "model.embed_tokens.weight") continue;
    for (int k = 0; k < kPairKeys; ++k)
      for (int v = 0; v < kPairValues; ++v)
        (*t)[pair_id(k, v)].copy_(((*t)[key_id(k)] + (*t)[value_id(v)]) / std::sqrt(2.0));
  }
}

namespace {

at::Tensor to_ids(const std::vector<std::vector<int32_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  std::vector<int64_t> flat;
  flat.reserve(B * T);
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat, at::kLong).view({B, T});
}

}  // namespace

PretrainResult pretrain(CausalLM& model, const World& world, const PretrainOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  AdamWOptions adam_opt;
  adam_opt.weight_decay = opt.weight_decay;
  // fp32 masters bound into the model's slots (the model is fp32: the slots hold the masters);
  // matrices and embeddings decay, RMSNorm gains do not.
  TrainableParams params = TrainableParams::of(model.parameters(), model.device(), adam_opt);
  params.bind(at::kFloat);

  PretrainResult r;
  int64_t step = 0;  // over both phases: the world's training batch of this step
  auto train_step = [&](bool recall_only, double lr) {
    auto ids = to_ids(world.training_batch(/*stream=*/0, step, opt.batch, recall_only));
    const int64_t T = ids.size(1);
    auto logits = model.forward(ids.narrow(1, 0, T - 1));  // [B,T-1,V]
    auto target = ids.narrow(1, 1, T - 1).reshape({-1});
    auto loss = at::nll_loss(at::log_softmax(logits.reshape({-1, logits.size(-1)}), -1), target);
    loss.backward();
    clip_grad_norm(params.masters, opt.clip);
    params.opt.step(lr);
    params.opt.zero_grad();
    r.loss.push_back(loss.item<double>());
    if (opt.on_step) opt.on_step(step, recall_only ? 1 : 2, r.loss.back());
    ++step;
  };
  // No checkpoints (the demo reruns in a minute), so Ctrl-C keeps its default action.
  LoopOptions lo;
  lo.progress = false, lo.catch_signals = false;

  // Phase 1: recall only, warm-up then constant, until mastered.
  const LrSchedule phase1{opt.lr, 1.0, opt.warmup, opt.max_recall_steps, /*cosine=*/false};
  lo.total_steps = opt.max_recall_steps;
  LoopHooks h1;
  h1.step = [&](int64_t s) { train_step(true, phase1.at(s)); };
  h1.finished = [&] {
    if (step % opt.check_every != 0 || !opt.recall_accuracy) return false;
    torch::NoGradGuard no_grad;
    r.recall_accuracy = opt.recall_accuracy();
    return r.recall_accuracy >= opt.mastery;
  };
  TrainLoop(lo).run(h1);
  r.recall_steps = step;

  // Phase 2: the mixture, cosine-decayed from lr (no warm-up).
  const LrSchedule phase2{opt.lr, opt.min_lr_ratio, 0, opt.mixed_steps};
  lo.total_steps = opt.mixed_steps;
  LoopHooks h2;
  h2.step = [&](int64_t s) { train_step(false, phase2.at(s - 1)); };
  TrainLoop(lo).run(h2);
  params.unbind();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hyb::demo
