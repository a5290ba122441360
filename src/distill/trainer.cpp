// The distillation loop. Per step:
//   ids [B,T] (the next B training sequences)
//   teacher forward (no grad) capturing (x_l, A_l(x_l)) for every selected layer l
//   for every student S_l:  y = S_l(x_l) in the compute dtype;  loss_l = mean((y - A_l(x_l))^2) in fp32
//                           backward into the fp32 masters; clip ||g_l|| <= clip; AdamW step
//   all losses finite? (one host sync per step) -> log, evaluate, checkpoint as scheduled
// Learning rate: linear warm-up over W steps, then cosine from lr down to lr * min_lr_ratio.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "distill/data.h"
#include "distill/distill.h"
#include "distill/linear_file.h"
#include "distill/students.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/interrupt.h"
#include "util/plot.h"
#include "util/progress.h"
#include "util/threads.h"

namespace hyb {
namespace fs = std::filesystem;

std::vector<int64_t> parse_layer_list(const std::string& spec, int64_t n, const std::string& where) {
  std::set<int64_t> out;
  if (spec.empty() || spec == "all") {
    for (int64_t l = 0; l < n; ++l) out.insert(l);
    return {out.begin(), out.end()};
  }
  std::stringstream ss(spec);
  std::string item;
  auto num = [&](const std::string& s) -> int64_t {
    size_t used = 0;
    int64_t v = -1;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || v < 0) fail(where, "'{}' is not a layer number", s);
    if (v >= n) fail(where, "layer {} does not exist (the model has layers 0-{})", v, n - 1);
    return v;
  };
  while (std::getline(ss, item, ',')) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.insert(num(item));
      continue;
    }
    const int64_t a = num(item.substr(0, dash)), b = num(item.substr(dash + 1));
    if (a > b) fail(where, "empty range '{}'", item);
    for (int64_t l = a; l <= b; ++l) out.insert(l);
  }
  if (out.empty()) fail(where, "no layers selected");
  return {out.begin(), out.end()};
}

std::string format_layer_list(const std::vector<int64_t>& layers) {
  std::string s;
  for (size_t i = 0; i < layers.size(); ++i) s += (i ? "," : "") + std::to_string(layers[i]);
  return s;
}

namespace {

// lr at update number s = 1, 2, ..., total.
double learning_rate(const DistillOptions& o, int64_t s, int64_t warmup, int64_t total) {
  if (s <= warmup) return o.lr * static_cast<double>(s) / static_cast<double>(warmup);
  const double p = static_cast<double>(s - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double lo = o.lr * o.min_lr_ratio;
  return lo + (o.lr - lo) * 0.5 * (1 + std::cos(M_PI * std::min(1.0, p)));
}

nlohmann::json metrics_json(const std::vector<LayerMetrics>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& x : m) j[std::to_string(x.layer)] = {{"mse", x.mse}, {"rel_mse", x.rel_mse}};
  return j;
}

std::vector<LayerMetrics> metrics_from_json(const nlohmann::json& j) {
  std::vector<LayerMetrics> m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m.push_back({std::stoll(it.key()), it.value().at("mse").get<double>(), it.value().at("rel_mse").get<double>()});
  std::sort(m.begin(), m.end(), [](auto& a, auto& b) { return a.layer < b.layer; });
  return m;
}

std::vector<std::string> path_strings(const std::vector<fs::path>& v) {
  std::vector<std::string> s;
  for (const auto& p : v) s.push_back(p.string());
  return s;
}

// Keeps the lines of out/log.jsonl up to `step` (a resumed run re-does what came after its checkpoint).
void truncate_log(const fs::path& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).at("step").get<int64_t>() > step) continue;
    } catch (const std::exception&) {
      continue;  // a line cut short by the interruption
    }
    kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

// Per-layer training loss and held-out rel-MSE against the step, from log.jsonl.
void write_plots(const fs::path& dir, const std::vector<int64_t>& layers) {
  std::map<int64_t, PlotSeries> train, held;
  for (int64_t l : layers) train[l].name = held[l].name = "layer " + std::to_string(l);
  std::ifstream in(dir / "log.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;
    const double step = j.value("step", 0.0);
    auto add = [&](std::map<int64_t, PlotSeries>& into, const nlohmann::json& m, const char* key) {
      for (auto it = m.begin(); it != m.end(); ++it) {
        auto s = into.find(std::stoll(it.key()));
        if (s == into.end()) continue;
        s->second.x.push_back(step);
        s->second.y.push_back(it.value().at(key).get<double>());
      }
    };
    if (j.contains("train")) add(train, j["train"], "mse");
    if (j.contains("heldout")) add(held, j["heldout"], "rel_mse");
  }
  auto values = [](std::map<int64_t, PlotSeries>& m) {
    std::vector<PlotSeries> v;
    for (auto& [l, s] : m) v.push_back(s);
    return v;
  };
  write_svg_line_plot(dir / "loss.svg", values(train),
                      {"Blockwise distillation: training loss per layer", "step", "MSE", true});
  write_svg_line_plot(dir / "heldout.svg", values(held),
                      {"Held-out relative MSE per layer", "step", "MSE / Var(target)", true});
}

}  // namespace

DistillResult run_distill(const DistillOptions& o) {
  // ---- Model, students, data -------------------------------------------------------------
  LoadOptions lo;
  lo.device = at::Device(o.device);
  if (!o.dtype.empty()) lo.dtype = parse_dtype(o.dtype, "--dtype");
  else lo.dtype = lo.device.is_cuda() ? at::kBFloat16 : at::kFloat;
  auto teacher = CausalLM::load(o.model_dir, lo);
  const ModelConfig& cfg = teacher->config();
  const at::ScalarType dtype = teacher->dtype();
  configure_threads(o.threads, cfg.hidden_size);
  if (o.seq_len > cfg.max_position_embeddings)
    fail("--seq-len", "{} exceeds the model's max_position_embeddings {}", o.seq_len, cfg.max_position_embeddings);
  if (o.batch < 1) fail("--batch", "must be at least 1");
  const std::vector<int64_t> layers = parse_layer_list(o.layers, teacher->num_layers(), "--layers");
  const LinearSettings settings = LinearSettings::for_model(o.mixer, cfg);

  const fs::path tok_dir = o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
  const Tokenizer tok = Tokenizer::load(tok_dir);
  const auto files = expand_data_paths(o.data);
  const auto eval_files = o.eval_data.empty() ? std::vector<fs::path>{} : expand_data_paths(o.eval_data);
  PackOptions po;
  po.seq_len = o.seq_len;
  po.vocab_size = cfg.vocab_size;
  po.fold_vocab = o.fold_vocab;
  po.held_out = eval_files.empty() ? o.eval_sequences : 0;
  SequenceStream stream(files, DocTokenizer::from(tok), po);
  std::vector<std::vector<int32_t>> held_out = stream.held_out();
  if (!eval_files.empty()) {
    PackOptions ep = po;
    ep.held_out = o.eval_sequences;
    held_out = SequenceStream(eval_files, DocTokenizer::from(tok), ep).held_out();
  }

  const int64_t tokens_per_step = o.batch * o.seq_len;
  const int64_t total = std::max<int64_t>(1, (o.tokens + tokens_per_step - 1) / tokens_per_step);
  const int64_t warmup = o.warmup >= 0 ? o.warmup : std::max<int64_t>(1, total / 50);

  AdamWOptions ao;
  ao.weight_decay = o.weight_decay;
  std::vector<Student> students = make_students(*teacher, settings, layers, o.seed, ao);

  // What a resumed run must share with the run it continues (anything that changes the result).
  nlohmann::json fingerprint = {
      {"model", fs::absolute(o.model_dir).lexically_normal().string()}, {"mixer", o.mixer},
      {"linear_attention", settings.to_json()}, {"data", path_strings(files)},
      {"eval_data", path_strings(eval_files)}, {"seq_len", o.seq_len}, {"batch", o.batch},
      {"total_steps", total}, {"lr", o.lr}, {"min_lr_ratio", o.min_lr_ratio}, {"warmup", warmup},
      {"weight_decay", o.weight_decay}, {"clip", o.clip}, {"layers", format_layer_list(layers)},
      {"seed", o.seed}, {"eval_sequences", o.eval_sequences}, {"dtype", dtype_name(dtype)},
      {"fold_vocab", o.fold_vocab}};

  // ---- Output directory: fresh, or resumed from its checkpoint --------------------------
  fs::create_directories(o.out_dir);
  const bool have_ckpt = fs::exists(o.out_dir / "checkpoint.safetensors");
  DistillResult r;
  r.total_steps = total;
  int64_t step = 0;
  double seconds_before = 0;
  if (o.resume) {
    if (!have_ckpt) fail((o.out_dir / "checkpoint.safetensors").string(), "--resume: no checkpoint to resume from");
    nlohmann::json state = read_checkpoint_state(o.out_dir);
    const nlohmann::json& was = state.at("fingerprint");
    for (auto it = fingerprint.begin(); it != fingerprint.end(); ++it)
      if (!was.contains(it.key()) || was[it.key()] != it.value())
        fail("--resume", "'{}' was {} in the checkpoint, now {}: resume with the same settings",
             it.key(), was.contains(it.key()) ? was[it.key()].dump() : "absent", it.value().dump());
    state = load_checkpoint(o.out_dir, students);
    step = state.at("step").get<int64_t>();
    seconds_before = state.at("seconds").get<double>();
    r.start = metrics_from_json(state.at("start_metrics"));
    stream.skip(state.at("train_sequences").get<int64_t>());
    truncate_log(o.out_dir / "log.jsonl", step);
    fmt::print(stderr, "resuming at step {}/{} ({} training sequences skipped)\n", step, total, stream.consumed());
  } else {
    for (const char* f : {"checkpoint.safetensors", "linear.safetensors"})
      if (fs::exists(o.out_dir / f))
        fail(o.out_dir.string(), "already holds {} (pass --resume to continue, or choose another --out)", f);
    std::ofstream(o.out_dir / "log.jsonl", std::ios::trunc);
  }
  std::ofstream log(o.out_dir / "log.jsonl", std::ios::app);

  fmt::print(stderr, "distill: {} layers [{}] -> {} | {} steps of {}x{} tokens | warm-up {} | {} on {}\n",
             layers.size(), format_layer_list(layers), o.mixer, total, o.batch, o.seq_len, warmup,
             dtype_name(dtype), o.device);

  const auto eval_now = [&] { return evaluate(*teacher, students, held_out, o.batch, dtype); };
  if (step == 0) {
    r.start = eval_now();
    log << nlohmann::json{{"step", 0}, {"tokens", 0}, {"heldout", metrics_json(r.start)}}.dump() << "\n" << std::flush;
  }
  auto state_json = [&](int64_t s, double secs) {
    return nlohmann::json{{"step", s}, {"total_steps", total}, {"train_sequences", stream.consumed()},
                          {"tokens", stream.consumed() * o.seq_len}, {"epoch", stream.epoch()},
                          {"seconds", secs}, {"start_metrics", metrics_json(r.start)},
                          {"fingerprint", fingerprint}};
  };

  // ---- The loop ----------------------------------------------------------------------------
  StopOnSignal stop;
  // The bar counts this run's tokens, so its rate is tokens/s and its ETA the remaining time.
  Progress bar("distill", (total - step) * tokens_per_step, "tok",
               o.progress ? Progress::Mode::kAuto : Progress::Mode::kSilent);
  bar.plain_interval = 30;
  const auto t0 = std::chrono::steady_clock::now();
  auto secs = [&] { return seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const size_t L = students.size();
  std::vector<double> sum_loss(L, 0), sum_rel(L, 0);
  int64_t since_log = 0, last_ckpt = step, tokens_run = 0;
  std::string worst = "-";
  while (step < total && !StopOnSignal::stop_requested()) {
    std::vector<std::vector<int32_t>> seqs;
    for (int64_t b = 0; b < o.batch; ++b) seqs.push_back(stream.next());
    at::Tensor ids = ids_tensor(seqs, teacher->device());
    Captures cap = capture(*teacher, ids, layers);
    const double lr = learning_rate(o, step + 1, warmup, total);
    const auto pos = teacher->positions(ids.size(0), ids.size(1), nullptr);

    std::vector<at::Tensor> losses, vars;
    for (size_t i = 0; i < L; ++i) {
      Student& s = students[i];
      if (o.poison_capture) o.poison_capture(step + 1, s.layer, cap.in[i], cap.out[i]);
      s.bind(dtype);
      at::Tensor target = cap.out[i].to(at::kFloat);
      at::Tensor y = s.module->forward(cap.in[i], pos, nullptr).to(at::kFloat);
      at::Tensor loss = (y - target).pow(2).mean();
      loss.backward();
      clip_grad_norm(s.masters, o.clip);
      s.opt.step(lr);
      s.opt.zero_grad();
      {
        at::NoGradGuard ng;
        losses.push_back(loss.detach());
        vars.push_back((target - target.mean()).pow(2).mean());
      }
      cap.in[i] = cap.out[i] = at::Tensor();  // free this layer's capture now
    }
    ++step;
    tokens_run += tokens_per_step;
    // One host sync per step: every loss, checked for NaN / Inf.
    const at::Tensor lv = at::stack(losses).to(at::kDouble).cpu(), vv = at::stack(vars).to(at::kDouble).cpu();
    double worst_rel = -1;
    for (size_t i = 0; i < L; ++i) {
      const double loss = lv[i].item<double>(), var = vv[i].item<double>();
      if (!std::isfinite(loss)) {
        bar.finish("stopped");
        fail("layer " + std::to_string(students[i].layer),
             "loss is {} at step {} (training sequences {}-{}); stopped: outputs and the last checkpoint (step {}) "
             "are left as they were",
             loss, step, stream.consumed() - o.batch, stream.consumed() - 1, last_ckpt);
      }
      const double rel = var > 0 ? loss / var : 0;
      sum_loss[i] += loss, sum_rel[i] += rel;
      if (rel > worst_rel) worst_rel = rel, worst = fmt::format("worst rel-MSE {:.4f} (layer {})", rel, students[i].layer);
    }
    ++since_log;

    // Log (means since the last logged step), evaluate, checkpoint.
    const bool last = step == total;
    if (step % o.log_every == 0 || last || step == 1) {
      nlohmann::json train = nlohmann::json::object();
      for (size_t i = 0; i < L; ++i)
        train[std::to_string(students[i].layer)] = {{"mse", sum_loss[i] / since_log}, {"rel_mse", sum_rel[i] / since_log}};
      nlohmann::json j = {{"step", step}, {"tokens", stream.consumed() * o.seq_len}, {"lr", lr}, {"seconds", secs()}, {"train", train}};
      if ((o.eval_every > 0 && step % o.eval_every == 0) || last) {
        r.end = eval_now();
        j["heldout"] = metrics_json(r.end);
      }
      log << j.dump() << "\n" << std::flush;
      std::fill(sum_loss.begin(), sum_loss.end(), 0);
      std::fill(sum_rel.begin(), sum_rel.end(), 0);
      since_log = 0;
    } else if (o.eval_every > 0 && step % o.eval_every == 0) {
      r.end = eval_now();
      log << nlohmann::json{{"step", step}, {"tokens", stream.consumed() * o.seq_len}, {"heldout", metrics_json(r.end)}}.dump()
          << "\n" << std::flush;
    }
    if ((o.checkpoint_every > 0 && step % o.checkpoint_every == 0) || last) {
      save_checkpoint(o.out_dir, students, state_json(step, secs()));
      last_ckpt = step;
    }
    bar.update(tokens_run, fmt::format("step {}/{} | {}", step, total, worst));
    if (o.after_step) o.after_step(step);
  }
  bar.finish();
  r.steps = step;
  r.tokens = stream.consumed() * o.seq_len;
  r.seconds = secs();

  if (step < total) {  // stopped by a signal
    if (last_ckpt != step) save_checkpoint(o.out_dir, students, state_json(step, r.seconds));
    r.interrupted = true;
    fmt::print(stderr, "interrupted by signal {} at step {}/{}: checkpoint written to {}; rerun with --resume\n",
               StopOnSignal::signal_number(), step, total, (o.out_dir / "checkpoint.safetensors").string());
    return r;
  }

  // ---- Outputs -----------------------------------------------------------------------------
  if (r.end.empty()) r.end = eval_now();  // a resumed run that had already finished
  std::map<int64_t, TokenMixer*> modules;
  for (auto& s : students) {
    for (size_t i = 0; i < s.slots.size(); ++i) *s.slots[i] = s.masters[i].detach();  // save the fp32 masters
    modules[s.layer] = s.module.get();
  }
  save_linear_layers(o.out_dir / "linear.safetensors", settings, modules);
  nlohmann::json per_layer = nlohmann::json::object();
  for (size_t i = 0; i < L; ++i)
    per_layer[std::to_string(layers[i])] = {{"start", {{"mse", r.start[i].mse}, {"rel_mse", r.start[i].rel_mse}}},
                                            {"end", {{"mse", r.end[i].mse}, {"rel_mse", r.end[i].rel_mse}}}};
  nlohmann::json report = {
      {"model", o.model_dir.string()}, {"tokenizer", tok_dir.string()}, {"mixer", o.mixer},
      {"linear_attention", settings.to_json()}, {"layers", format_layer_list(layers)},
      {"data", {{"files", path_strings(files)}, {"eval_files", path_strings(eval_files)},
                {"seq_len", o.seq_len}, {"held_out_sequences", held_out.size()},
                {"train_sequences", stream.consumed()}, {"train_tokens", r.tokens}, {"epochs_started", stream.epoch() + 1}}},
      {"optimizer", {{"name", "adamw"}, {"lr", o.lr}, {"min_lr_ratio", o.min_lr_ratio}, {"warmup_steps", warmup},
                     {"betas", {ao.beta1, ao.beta2}}, {"eps", ao.eps}, {"weight_decay", o.weight_decay},
                     {"clip", o.clip}, {"batch", o.batch}, {"steps", total}, {"seed", o.seed}}},
      {"device", o.device}, {"dtype", dtype_name(dtype)}, {"seconds", r.seconds},
      {"tokens_per_second", r.seconds > 0 ? r.tokens / r.seconds : 0.0}, {"metrics", per_layer}};
  write_file_atomic(o.out_dir / "distill.json", report.dump(2) + "\n");
  write_plots(o.out_dir, layers);
  return r;
}

}  // namespace hyb
