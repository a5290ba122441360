// The distillation loop. Per step:
//   ids [B,T] (the next B training sequences)
//   teacher forward (no grad) capturing (x_l, A_l(x_l)) for every selected layer l
//   for every student S_l:  y = S_l(x_l) in the compute dtype;  loss_l = mean((y - A_l(x_l))^2) in fp32
//                           backward into the fp32 masters; clip ||g_l|| <= clip; AdamW step
//   all losses finite? (one host sync per step) -> log, evaluate, checkpoint as scheduled
// With N processes (DistillOptions::group) each rank runs the teacher and students on its B/N
// sequences of the step, and collectives keep the ranks one run: the targets' means (so variances
// are of the global batch), each student's gradients (averaged before clipping and AdamW, so every
// rank takes the same update), the losses, and the decision to stop; rank 0 writes every file.
// Learning rate: linear warm-up over W steps, then cosine from lr down to lr * min_lr_ratio.
// The step loop, the optimiser, checkpoints and the log are the training core's (train/).
// On CUDA in one process, each student's update (everything after the teacher) is recorded as a
// CUDA graph after two eager steps and replayed from then on, so that its thousand-odd small
// kernels cost one launch (the same weights; +7.5% tokens/s on the Qwen2.5-1.5B shape, BENCHMARKS.md).
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "dist/process_group.h"
#include "distill/data.h"
#include "distill/distill.h"
#include "distill/report.h"
#include "distill/students.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "linear/ops/dispatch.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/loop.h"
#include "train/schedule.h"
#include "util/cuda_graph.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/profile.h"
#include "util/threads.h"

namespace hyb {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> path_strings(const std::vector<fs::path>& v) {
  std::vector<std::string> s;
  for (const auto& p : v) s.push_back(p.string());
  return s;
}

// One run: built in the order data flows (teacher, tokenizer, data, students), then run().
class Distiller {
 public:
  explicit Distiller(const DistillOptions& o);
  DistillResult run();

 private:
  void open_out_dir();  // a fresh directory, or the state of its checkpoint (--resume)
  // One training step; returns each layer's (loss, target variance). Throws on a non-finite loss.
  std::vector<std::pair<double, double>> train_step(double lr);
  // Student s learns to map `in` to `target`: bind, forward, loss, backward, (ranks: average
  // the gradients), clip, AdamW apply. Returns the loss (0-dim fp32, on the device). The AdamW
  // scalars must have been advanced; the gradients are left for the caller to clear.
  at::Tensor update(Student& s, const at::Tensor& in, const at::Tensor& target, const Positions& pos);
  // Records every student's update as a CUDA graph reading g_in_ / g_target_; false (and a
  // message) if that fails, after which training stays eager.
  bool capture_graphs(const Positions& pos);
  double model_flops_per_token();
  std::vector<LayerMetrics> evaluate_now() {
    return evaluate(*teacher_, students_, held_out_, std::max<int64_t>(1, o_.batch / world_), dtype_, o_.group);
  }
  std::vector<CheckpointPart> checkpoint_parts() {
    std::vector<CheckpointPart> parts;
    for (auto& s : students_) parts.push_back({linear_prefix(s.layer), &s});
    return parts;
  }
  nlohmann::json state(double seconds) const;
  void write_outputs();

  const DistillOptions& o_;
  int64_t rank_ = 0, world_ = 1;
  bool root_ = true;  // rank 0: writes log, checkpoints, outputs
  std::unique_ptr<CausalLM> teacher_;
  at::ScalarType dtype_;
  std::vector<int64_t> layers_;
  LinearSettings settings_;
  fs::path tok_dir_;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<fs::path> files_, eval_files_;
  std::unique_ptr<SequenceStream> stream_;
  std::vector<std::vector<int32_t>> held_out_;
  int64_t tokens_per_step_ = 0, total_ = 0, warmup_ = 0;
  LrSchedule schedule_;
  AdamWOptions adamw_;
  std::vector<Student> students_;
  nlohmann::json fingerprint_;  // what a resumed run must share with the run it continues
  int64_t step_ = 0;
  double seconds_before_ = 0;  // training time of earlier runs (resume)
  TrainLoop* loop_ = nullptr;  // while run() runs
  DistillResult r_;
  OutputLock lock_;  // on --out while the run writes it (root only)
  JsonlLog log_;
  // CUDA graphs: one per student, sharing one memory pool and two static inputs (the captured
  // mixer input and target of the student being replayed).
  bool profiling_ = false;  // this step is profiled: train_step times the teacher and the students apart
  double teacher_ms_ = 0, students_ms_ = 0;
  bool use_graphs_ = false;
  int64_t eager_steps_ = 0;  // steps run eagerly in this process (graphs are captured after 2)
  std::vector<CudaGraph> graphs_;
  std::vector<at::Tensor> graph_losses_;
  at::Tensor g_in_, g_target_;
  Positions g_pos_;
};

Distiller::Distiller(const DistillOptions& o) : o_(o) {
  if (o.group) rank_ = o.group->rank(), world_ = o.group->world_size(), root_ = rank_ == 0;
  if (o.batch % world_ != 0)
    fail("--batch-size", "{} is not divisible by --gpus {} (each process takes batch / N sequences of every step)", o.batch,
         world_);
  LoadOptions lo;
  lo.device = parse_device(o.device);
  lo.dtype = !o.dtype.empty() ? parse_compute_dtype(o.dtype, lo.device, "--dtype") : lo.device.is_cuda() ? at::kBFloat16 : at::kFloat;
  teacher_ = CausalLM::load(o.model_dir, lo);
  const ModelConfig& cfg = teacher_->config();
  dtype_ = teacher_->dtype();
  configure_threads(o.threads, cfg.hidden_size);
  if (o.seq_len > cfg.max_position_embeddings)
    fail("--seq-len", "{} exceeds the model's max_position_embeddings {}", o.seq_len, cfg.max_position_embeddings);
  if (o.batch < 1) fail("--batch-size", "must be at least 1");
  layers_ = parse_layer_list(o.layers, teacher_->num_layers(), "--layers");
  settings_ = LinearSettings::for_model(o.mixer, cfg);
  if (o.norm_eps > 0) settings_.norm_eps = o.norm_eps;

  tok_dir_ = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  tok_ = std::make_unique<Tokenizer>(Tokenizer::load(tok_dir_));
  files_ = expand_data_paths(o.data);
  if (!o.eval_data.empty()) eval_files_ = expand_data_paths(o.eval_data);
  PackOptions po;
  po.seq_len = o.seq_len;
  po.vocab_size = cfg.vocab_size;
  po.fold_vocab = o.fold_vocab;
  po.held_out = eval_files_.empty() ? o.eval_sequences : 0;
  stream_ = std::make_unique<SequenceStream>(files_, DocTokenizer::from(*tok_), po);
  held_out_ = stream_->held_out();
  if (!eval_files_.empty()) {
    po.held_out = o.eval_sequences;
    held_out_ = SequenceStream(eval_files_, DocTokenizer::from(*tok_), po).held_out();
  }

  tokens_per_step_ = o.batch * o.seq_len;
  total_ = std::max<int64_t>(1, (o.tokens + tokens_per_step_ - 1) / tokens_per_step_);
  warmup_ = o.warmup >= 0 ? o.warmup : std::max<int64_t>(1, total_ / 50);
  schedule_ = {o.lr, o.min_lr_ratio, warmup_, total_};
  adamw_.weight_decay = o.weight_decay;
  students_ = make_students(*teacher_, settings_, layers_, o.seed, adamw_);
  r_.total_steps = total_;
  // Graphs need fixed shapes (every step is batch x seq_len) and no collective inside the update.
  use_graphs_ = o.cuda_graph && teacher_->device().is_cuda() && !o.group;

  fingerprint_ = {{"model", fs::absolute(o.model_dir).lexically_normal().string()}, {"mixer", o.mixer},
                  {"linear_attention", settings_.to_json()}, {"data", path_strings(files_)},
                  {"eval_data", path_strings(eval_files_)}, {"seq_len", o.seq_len}, {"batch", o.batch},
                  {"total_steps", total_}, {"lr", o.lr}, {"min_lr_ratio", o.min_lr_ratio}, {"warmup", warmup_},
                  {"weight_decay", o.weight_decay}, {"clip", o.clip}, {"layers", format_layer_list(layers_)},
                  {"seed", o.seed}, {"eval_sequences", o.eval_sequences}, {"dtype", dtype_name(dtype_)},
                  {"fold_vocab", o.fold_vocab}};
}

void Distiller::open_out_dir() {
  const fs::path& out = o_.out_dir;
  if (root_) lock_ = OutputLock::acquire("--out", out);
  if (!o_.resume) {
    for (const char* f : {"checkpoint.safetensors", "linear.safetensors"})
      if (root_ && fs::exists(out / f))
        fail(out.string(), "already holds {} (pass --resume to continue, or choose another --out)", f);
    // Anything else in it (an unrelated log.jsonl, say) is not ours to truncate.
    if (root_) require_new_output_dir("--out", out, {o_.model_dir});
    if (root_) fs::create_directories(out);
    log_.open(out / "log.jsonl", -1, root_);
    return;
  }
  if (root_) fs::create_directories(out);
  if (!fs::exists(out / "checkpoint.safetensors"))
    fail((out / "checkpoint.safetensors").string(), "--resume: no checkpoint to resume from");
  require_same_settings(fingerprint_, read_checkpoint_state(out));
  const nlohmann::json s = load_checkpoint(out, checkpoint_parts());
  const std::string ckpt = checkpoint_path(out).string();  // names the file in a damaged state's error
  step_ = json_int(s, "step", ckpt);
  seconds_before_ = json_number(s, "seconds", ckpt);
  r_.start = metrics_from_json(json_object_key(s, "start_metrics", ckpt), ckpt);
  // The same data order as an uninterrupted run: sequences are counted globally, whatever N was.
  stream_->skip(json_int(s, "train_sequences", ckpt));
  log_.open(out / "log.jsonl", step_, root_);
  if (!root_) return;
  fmt::print(stderr, "resuming at step {}/{} ({} training sequences skipped)\n", step_, total_, stream_->consumed());
}

nlohmann::json Distiller::state(double seconds) const {
  return {{"step", step_}, {"total_steps", total_}, {"train_sequences", stream_->consumed()},
          {"tokens", stream_->consumed() * o_.seq_len}, {"epoch", stream_->epoch()}, {"seconds", seconds},
          {"start_metrics", metrics_json(r_.start)}, {"processes", world_}, {"fingerprint", fingerprint_}};
}

std::vector<std::pair<double, double>> Distiller::train_step(double lr) {
  // Every rank streams the whole global batch and keeps its share: sequences r, r+N, ...
  std::vector<std::vector<int32_t>> seqs;
  for (int64_t b = 0; b < o_.batch; ++b) {
    auto seq = stream_->next();
    if (b % world_ == rank_) seqs.push_back(std::move(seq));
  }
  const at::Tensor ids = ids_tensor(seqs, teacher_->device());
  auto since = [&, t = std::chrono::steady_clock::now()]() mutable {  // ms since the last call (profiled step)
    synchronize(teacher_->device());
    const auto now = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::milli>(now - std::exchange(t, now)).count();
  };
  Captures cap = capture(*teacher_, ids, layers_);
  if (profiling_) teacher_ms_ = since();
  const auto pos = teacher_->positions(ids.size(0), ids.size(1), nullptr);
  const size_t L = students_.size();
  std::vector<at::Tensor> means(1);  // each target's mean over the global batch
  {
    at::NoGradGuard ng;
    std::vector<at::Tensor> m;
    for (size_t i = 0; i < L; ++i) m.push_back(cap.out[i].to(at::kFloat).mean());
    means[0] = at::stack(m);
    if (o_.group) o_.group->all_reduce(means, dist::Reduce::kAvg);  // equal shares: mean of means
  }
  std::vector<at::Tensor> losses, vars;
  if (use_graphs_ && eager_steps_ >= 2 && graphs_.empty()) {
    g_in_ = at::empty_like(cap.in[0]);
    g_target_ = at::empty(cap.out[0].sizes(), cap.out[0].options().dtype(at::kFloat));
    use_graphs_ = capture_graphs(pos);
  }
  const bool graphed = use_graphs_ && !graphs_.empty();
  for (size_t i = 0; i < L; ++i) {
    Student& s = students_[i];
    if (o_.poison_capture) o_.poison_capture(step_ + 1, s.layer, cap.in[i], cap.out[i]);
    const at::Tensor target = cap.out[i].to(at::kFloat);
    s.opt.advance(lr);
    if (graphed) {
      g_in_.copy_(cap.in[i]);
      g_target_.copy_(target);
      graphs_[i].replay();
      losses.push_back(graph_losses_[i]);
    } else {
      losses.push_back(update(s, cap.in[i], target, pos));
      s.opt.zero_grad();
    }
    at::NoGradGuard ng;
    vars.push_back((target - means[0][static_cast<int64_t>(i)]).pow(2).mean());
    cap.in[i] = cap.out[i] = at::Tensor();  // free this layer's capture now
  }
  if (!graphed) ++eager_steps_;
  if (profiling_) students_ms_ = since();
  // One host sync per step: every loss at once (averaged over ranks), checked for NaN / Inf.
  std::vector<at::Tensor> lvv{at::cat({at::stack(losses), at::stack(vars)}).to(at::kDouble)};
  if (o_.group) o_.group->all_reduce(lvv, dist::Reduce::kAvg);
  const at::Tensor both = lvv[0].cpu();
  const int64_t n = static_cast<int64_t>(L);
  const at::Tensor lv = both.narrow(0, 0, n), vv = both.narrow(0, n, n);
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < students_.size(); ++i) {
    const double loss = lv[i].item<double>();
    if (!std::isfinite(loss))
      fail("layer " + std::to_string(students_[i].layer),
           "loss is {} at step {} (training sequences {}-{}); stopped: outputs and the last checkpoint ({}) are left "
           "as they were",
           loss, step_ + 1, stream_->consumed() - o_.batch, stream_->consumed() - 1,
           loop_->last_checkpoint() < 0 ? "none yet" : "step " + std::to_string(loop_->last_checkpoint()));
    out.emplace_back(loss, vv[i].item<double>());
  }
  return out;
}

at::Tensor Distiller::update(Student& s, const at::Tensor& in, const at::Tensor& target, const Positions& pos) {
  s.bind(dtype_);
  at::Tensor loss = (s.module->forward(in, pos, nullptr).to(at::kFloat) - target).pow(2).mean();
  loss.backward();
  // Data parallel: this student's mean gradient over the global batch, on every rank.
  if (o_.group) s.all_reduce_grads(*o_.group, /*average=*/true);
  clip_grad_norm(s.masters, o_.clip);
  s.opt.apply();
  return loss.detach();
}

bool Distiller::capture_graphs(const Positions& pos) {
  g_pos_ = pos;
  graphs_.resize(students_.size());
  graph_losses_.resize(students_.size());
  for (size_t i = 0; i < students_.size(); ++i) {
    Student& s = students_[i];
    // The eager steps' casts in the module's slots keep their autograd graph, and with it each
    // master's gradient accumulator, alive; that accumulator belongs to the default stream and
    // would make the capture wait on it. Dropping them lets the capture create its own.
    for (size_t k = 0; k < s.slots.size(); ++k) *s.slots[k] = s.masters[k].detach();
    // Gradients the graph accumulates into and clears in place (eager steps drop them instead).
    for (auto& m : s.masters) m.mutable_grad() = at::zeros_like(m);
    const std::string why = graphs_[i].capture(
        [&] {
          graph_losses_[i] = update(s, g_in_, g_target_, g_pos_);
          at::NoGradGuard ng;
          for (auto& m : s.masters) m.mutable_grad().zero_();
        },
        i > 0 ? &graphs_[0] : nullptr);
    if (!why.empty()) {
      if (root_) fmt::print(stderr, "distill: no CUDA graphs ({}); training step by step\n", why);
      for (auto& t : students_) t.opt.zero_grad();
      graphs_.clear();
      graph_losses_.clear();
      return false;
    }
  }
  if (root_)
    fmt::print(stderr, "distill: from step {} each student's update replays as a CUDA graph\n", step_ + 1);
  return true;
}

DistillResult Distiller::run() {
  open_out_dir();
  if (o_.group) o_.group->barrier();  // rank 0 has checked and opened --out
  if (root_)
    fmt::print(stderr, "distill: {} layers [{}] -> {} | {} steps of {}x{} tokens | warm-up {} | {} on {}{}\n",
               layers_.size(), format_layer_list(layers_), o_.mixer, total_, o_.batch, o_.seq_len, warmup_,
               dtype_name(dtype_), teacher_->device().str(),
               world_ > 1 ? fmt::format(" x {} processes ({} sequences each)", world_, o_.batch / world_) : "");
  if (step_ == 0) {
    r_.start = evaluate_now();
    log_.write({{"step", 0}, {"tokens", 0}, {"heldout", metrics_json(r_.start)}});
  }

  LoopOptions lo;
  lo.name = "distill";
  lo.total_steps = total_, lo.tokens_per_step = tokens_per_step_;
  lo.checkpoint_every = o_.checkpoint_every, lo.stop_after_steps = o_.stop_after_steps;
  lo.progress = o_.progress, lo.root = root_, lo.group = o_.group;
  lo.checkpoint_file = o_.out_dir / "checkpoint.safetensors";
  TrainLoop loop(lo, step_, seconds_before_);
  loop_ = &loop;
  const size_t L = students_.size();
  std::vector<double> sum_loss(L, 0), sum_rel(L, 0);  // since the last log line
  int64_t since_log = 0;
  double worst = -1;
  int64_t worst_layer = -1;
  LoopHooks h;
  h.step = [&](int64_t s) {
    const double lr = schedule_.at(s);
    std::vector<std::pair<double, double>> lv;
    if (s == o_.profile_step && root_) {  // --profile-step: this step's time, teacher and students apart
      profiling_ = true;
      const std::string kernels = profile_kernels(fmt::format("distill step {} (profiled)", s),
                                                  [&] { lv = train_step(lr); }, teacher_->device(), 0, 15);
      profiling_ = false;
      fmt::print(stderr, "profile of step {}: teacher forward and capture {:.1f} ms, {} students {:.1f} ms ({:.2f} ms each)\n{}",
                 s, teacher_ms_, L, students_ms_, students_ms_ / std::max<size_t>(L, 1), kernels);
    } else {
      lv = train_step(lr);
    }
    ++step_;
    ++since_log;
    worst = -1, worst_layer = -1;
    for (size_t i = 0; i < L; ++i) {
      const double rel = lv[i].second > 0 ? lv[i].first / lv[i].second : 0;  // MSE / Var(target)
      sum_loss[i] += lv[i].first, sum_rel[i] += rel;
      if (rel > worst) worst = rel, worst_layer = students_[i].layer;
    }
  };
  h.record = [&](int64_t s, bool last) {  // log (means since the last line), evaluate
    const bool eval = (o_.eval_every > 0 && s % o_.eval_every == 0) || last;
    nlohmann::json line = {{"step", s}, {"tokens", stream_->consumed() * o_.seq_len}};
    if (s % o_.log_every == 0 || last || s == 1) {
      nlohmann::json train = nlohmann::json::object();
      for (size_t i = 0; i < L; ++i)
        train[std::to_string(students_[i].layer)] = {{"mse", sum_loss[i] / since_log}, {"rel_mse", sum_rel[i] / since_log}};
      line["lr"] = schedule_.at(s), line["seconds"] = loop.seconds(), line["train"] = train;
      std::fill(sum_loss.begin(), sum_loss.end(), 0);
      std::fill(sum_rel.begin(), sum_rel.end(), 0);
      since_log = 0;
    }
    if (eval) line["heldout"] = metrics_json(r_.end = evaluate_now());
    if (line.size() > 2) log_.write(line);
  };
  h.checkpoint = [&] { save_checkpoint(o_.out_dir, checkpoint_parts(), state(loop.seconds())); };
  h.status = [&] { return fmt::format("step {}/{} | worst rel-MSE {:.4f} (layer {})", step_, total_, worst, worst_layer); };
  h.after_step = o_.after_step;
  const bool finished = loop.run(h);
  loop_ = nullptr;
  r_.steps = step_;
  r_.tokens = stream_->consumed() * o_.seq_len;
  r_.seconds = loop.seconds();
  r_.cuda_graphs = !graphs_.empty();
  if (!finished) {  // stopped by a signal or --stop-after-steps: the loop wrote the checkpoint
    r_.interrupted = true;
    return r_;
  }
  if (r_.end.empty()) r_.end = evaluate_now();  // resumed a run that had already finished
  if (root_) write_outputs();
  return r_;
}

// Model FLOPs of one training token, the usual 2N (forward) / 6N (forward + backward) count of
// matmul weights: the teacher runs layers 0..max(layers) forward (embedding lookups, norms and the
// head it never reaches are not counted; nor are attention scores or the students' recurrences, so
// the utilisation derived from it is a lower bound); each student runs forward and backward.
double Distiller::model_flops_per_token() {
  const ModelConfig& c = teacher_->config();
  const int64_t embed = c.vocab_size * c.hidden_size;
  const int64_t body = teacher_->num_parameters() - embed * (c.tie_word_embeddings ? 1 : 2) - c.hidden_size;
  const double teacher = 2.0 * static_cast<double>(body) / static_cast<double>(c.num_layers) *
                         static_cast<double>(layers_.back() + 1);
  double students = 0;
  for (const auto& s : students_)
    for (const auto& m : s.masters) students += 6.0 * static_cast<double>(m.numel());
  return teacher + students;
}

// Model FLOPs per second over the GPU's datasheet bf16 peak; null where the peak is unknown.
nlohmann::json mfu(double flops_per_second, c10::Device d) {
  const double peak = datasheet_bf16_tflops(d);
  return peak > 0 ? nlohmann::json(flops_per_second / (peak * 1e12)) : nlohmann::json(nullptr);
}

void Distiller::write_outputs() {
  std::map<int64_t, TokenMixer*> modules;
  for (auto& s : students_) {
    for (size_t i = 0; i < s.slots.size(); ++i) *s.slots[i] = s.masters[i].detach();  // save the fp32 masters
    modules[s.layer] = s.module.get();
  }
  save_linear_layers(o_.out_dir / "linear.safetensors", settings_, modules, model_fingerprint(o_.model_dir),
                     o_.model_dir.string());
  const double flops = model_flops_per_token();
  const nlohmann::json report = {
      {"model", o_.model_dir.string()}, {"tokenizer", tok_dir_.string()}, {"mixer", o_.mixer},
      {"linear_attention", settings_.to_json()}, {"layers", format_layer_list(layers_)},
      {"data", {{"files", path_strings(files_)}, {"eval_files", path_strings(eval_files_)},
                {"seq_len", o_.seq_len}, {"held_out_sequences", held_out_.size()},
                {"train_sequences", stream_->consumed()}, {"train_tokens", r_.tokens},
                {"epochs_started", stream_->epoch() + 1}}},
      {"optimizer", {{"name", "adamw"}, {"lr", o_.lr}, {"min_lr_ratio", o_.min_lr_ratio}, {"warmup_steps", warmup_},
                     {"betas", {adamw_.beta1, adamw_.beta2}}, {"eps", adamw_.eps}, {"weight_decay", o_.weight_decay},
                     {"clip", o_.clip}, {"batch", o_.batch}, {"steps", total_}, {"seed", o_.seed}}},
      {"device", teacher_->device().str()}, {"processes", world_}, {"dtype", dtype_name(dtype_)},
      {"seconds", r_.seconds}, {"cuda_graphs", r_.cuda_graphs},
      {"tokens_per_second", r_.seconds > 0 ? r_.tokens / r_.seconds : 0.0},
      {"model_flops_per_token", flops}, {"model_tflops_per_second", r_.seconds > 0 ? flops * r_.tokens / r_.seconds / 1e12 : 0.0},
      {"peak_memory_bytes", peak_memory_bytes(teacher_->device())},
      {"gpu", device_name(teacher_->device())},
      {"mfu", mfu(flops * (r_.seconds > 0 ? r_.tokens / r_.seconds : 0.0), teacher_->device())},
      {"linear_kernels", ops::fused_kernels_apply(teacher_->device(), dtype_) ? "fused" : "reference"},
      {"metrics", start_end_metrics(r_.start, r_.end)}};
  write_file_atomic(o_.out_dir / "distill.json", report.dump(2) + "\n");
  write_plots(o_.out_dir, layers_);
}

}  // namespace

DistillResult run_distill(const DistillOptions& o) { return Distiller(o).run(); }

}  // namespace hyb
