#include "demo/pretrain.h"

#include <chrono>

#include "demo/optim.h"
#include "demo/world.h"
#include "model/model.h"

namespace hyb::demo {

ModelConfig teacher_config(int64_t layers, int64_t hidden, int64_t heads, int64_t vocab) {
  nlohmann::json j = {{"architectures", {"LlamaForCausalLM"}},
                      {"model_type", "llama"},
                      {"hidden_size", hidden},
                      {"intermediate_size", 3 * hidden},
                      {"num_hidden_layers", layers},
                      {"num_attention_heads", heads},
                      {"num_key_value_heads", heads / 2},
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
  model.requires_grad(true);
  std::vector<at::Tensor> params;  // handles sharing the model's tensors: updates land in the model
  for (auto& [name, t] : model.parameters()) params.push_back(*t);
  AdamW adam(params, opt.weight_decay);

  PretrainResult r;
  for (int64_t step = 0; step < opt.steps; ++step) {
    auto ids = to_ids(world.training_batch(/*stream=*/0, step, opt.batch));
    const int64_t T = ids.size(1);
    auto logits = model.forward(ids.narrow(1, 0, T - 1));  // [B,T-1,V]
    auto target = ids.narrow(1, 1, T - 1).reshape({-1});
    auto loss = at::nll_loss(at::log_softmax(logits.reshape({-1, logits.size(-1)}), -1), target);
    loss.backward();
    clip_grad_norm(params, opt.clip);
    adam.step(cosine_lr(step, opt.steps, opt.warmup, opt.lr, opt.min_lr_ratio));
    adam.zero_grad();
    r.loss.push_back(loss.item<double>());
    if (opt.on_step) opt.on_step(step, r.loss.back());
  }
  model.requires_grad(false);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hyb::demo
