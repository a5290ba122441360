#include "demo/students.h"

#include <chrono>

#include "demo/optim.h"
#include "demo/world.h"
#include "model/model.h"

namespace hyb::demo {

namespace {

at::Tensor to_ids(const std::vector<std::vector<int32_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat, at::kLong).view({B, T});
}

// Every layer's (mixer input, mixer output) of the frozen teacher on `ids`.
void capture(CausalLM& teacher, const at::Tensor& ids, std::vector<at::Tensor>& in, std::vector<at::Tensor>& out) {
  torch::NoGradGuard no_grad;
  in.assign(teacher.num_layers(), {});
  out.assign(teacher.num_layers(), {});
  teacher.forward(ids, nullptr, [&](int64_t l, const at::Tensor& x, const at::Tensor& y) {
    in[l] = x;
    out[l] = y;
  });
}

// Relative MSE of each module against the captured targets: mean (y - t)^2 / Var(t).
std::vector<double> relative_mse(std::vector<std::unique_ptr<TokenMixer>>& modules, const Positions& pos,
                                 const std::vector<at::Tensor>& in, const std::vector<at::Tensor>& out) {
  torch::NoGradGuard no_grad;
  std::vector<double> r;
  for (size_t l = 0; l < modules.size(); ++l) {
    auto y = modules[l]->forward(in[l], pos, nullptr);
    r.push_back((y - out[l]).pow(2).mean().item<double>() / out[l].var(/*unbiased=*/false).item<double>());
  }
  return r;
}

}  // namespace

StudentResult distill_students(CausalLM& teacher, const LinearSettings& settings, const World& world,
                               const StudentOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t L = teacher.num_layers();
  StudentResult r;
  std::vector<std::vector<at::Tensor>> params(L);
  std::vector<AdamW> opts;
  for (int64_t l = 0; l < L; ++l) {
    r.modules.push_back(make_linear_mixer_from_attention(settings, teacher.attention_weights(l), opt.seed + l));
    r.modules.back()->requires_grad(true);
    for (auto& [name, t] : r.modules.back()->parameters()) params[l].push_back(*t);
    opts.emplace_back(params[l], opt.weight_decay);
  }
  r.loss.assign(L, {});

  // Held-out rows: stream 2 (the teacher trained on stream 0, the students train on stream 1).
  std::vector<at::Tensor> held_in, held_out;
  auto held_ids = to_ids(world.training_batch(/*stream=*/2, 0, opt.eval_batch));
  capture(teacher, held_ids, held_in, held_out);
  const int64_t T = held_ids.size(1);
  r.rel_mse_start = relative_mse(r.modules, teacher.positions(opt.eval_batch, T, nullptr), held_in, held_out);

  const Positions pos = teacher.positions(opt.batch, T, nullptr);  // unused by linear modules
  std::vector<at::Tensor> in, out;
  for (int64_t step = 0; step < opt.steps; ++step) {
    capture(teacher, to_ids(world.training_batch(/*stream=*/1, step, opt.batch)), in, out);
    const double lr = cosine_lr(step, opt.steps, opt.warmup, opt.lr, opt.min_lr_ratio);
    double mean_rel = 0;
    for (int64_t l = 0; l < L; ++l) {
      auto y = r.modules[l]->forward(in[l], pos, nullptr);
      // Dividing by the target's variance gives every layer the same scale of loss (and of
      // gradient), so one learning rate suits all layers.
      auto var = out[l].var(/*unbiased=*/false).clamp_min(1e-12);
      auto loss = (y - out[l]).pow(2).mean() / var;
      loss.backward();
      clip_grad_norm(params[l], opt.clip);
      opts[l].step(lr);
      opts[l].zero_grad();
      r.loss[l].push_back(loss.item<double>());
      mean_rel += r.loss[l].back() / static_cast<double>(L);
    }
    if (opt.on_step) opt.on_step(step, mean_rel);
  }
  for (auto& m : r.modules) m->requires_grad(false);
  r.rel_mse_end = relative_mse(r.modules, teacher.positions(opt.eval_batch, T, nullptr), held_in, held_out);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hyb::demo
