// The fine-tuning run. Per step s:
//   rows = batch_rows(s) (this rank's share: r, r+N, ...), count = answer tokens of the global batch
//   bind the fp32 masters into the model (bf16 on CUDA); h = layers(embed(ids)); the head only at
//   the answer positions; loss = sum -log p(answer) / count; backward (ranks: gradients summed,
//   each rank's loss being its share of the global mean); finite? clip; AdamW
// Parameters outside --train are not trained and are written back byte for byte from the input.
#include "sft/sft.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "dist/process_group.h"
#include "eval/evaluate.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "search/export.h"
#include "sft/examples.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/log.h"
#include "train/loop.h"
#include "train/params.h"
#include "train/schedule.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/plot.h"
#include "util/threads.h"

namespace hyb {
namespace fs = std::filesystem;

ParamList select_parameters(CausalLM& model, const std::string& spec) {
  const std::map<std::string, std::string> marks = {
      {"all", ""}, {"linear", ".linear_attn."}, {"attention", ".self_attn."}, {"mlp", ".mlp."}};
  std::vector<std::string> groups;
  std::stringstream ss(spec);
  for (std::string g; std::getline(ss, g, ',');) {
    if (!marks.count(g)) fail("--train", "unknown parameter group '{}' (all, linear, attention, mlp; comma-separated)", g);
    groups.push_back(marks.at(g));
  }
  if (groups.empty()) fail("--train", "empty (all, linear, attention, mlp; comma-separated)");
  ParamList out;
  for (auto& [name, t] : model.parameters())
    for (const auto& m : groups)
      if (m.empty() || name.find(m) != std::string::npos) {
        out.emplace_back(name, t);
        break;
      }
  if (out.empty()) fail("--train", "'{}' selects no parameter of this model (it has no such layers)", spec);
  return out;
}

at::Tensor answer_loss_sum(CausalLM& model, const at::Tensor& ids, const at::Tensor& labels, const at::Tensor& answer) {
  const int64_t B = ids.size(0), T = ids.size(1);
  const auto pos = model.positions(B, T, nullptr);
  at::Tensor h = model.run_layers(model.embed(ids), 0, model.num_layers(), pos, nullptr);
  const at::Tensor idx = answer.reshape({-1}).nonzero().reshape({-1});
  h = h.reshape({B * T, h.size(-1)}).index_select(0, idx);
  const at::Tensor logp = at::log_softmax(model.logits(h), -1);  // [N,V] fp32
  return -logp.gather(1, labels.reshape({-1}).index_select(0, idx).unsqueeze(1)).sum();
}

namespace {

at::Tensor long_tensor(const std::vector<const std::vector<int32_t>*>& rows, at::Device d) {
  std::vector<int64_t> flat;
  for (const auto* r : rows) flat.insert(flat.end(), r->begin(), r->end());
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), -1}).to(d);
}

// loss.svg and eval.svg from log.jsonl (so that a resumed run's plots cover every run).
void write_sft_plots(const fs::path& dir) {
  PlotSeries loss{"training loss (answer tokens)", {}, {}};
  std::map<std::string, PlotSeries> eval;
  std::ifstream in(dir / "log.jsonl");
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    const std::string where = (dir / "log.jsonl").string() + ":" + std::to_string(++n);
    nlohmann::json j;
    try {
      j = parse_json(line, where);
    } catch (const Error&) {  // a line cut off by a kill: the log is ours, and it is skipped
      continue;
    }
    const double step = static_cast<double>(json_int(j, "step", where));
    if (j.contains("loss")) loss.x.push_back(step), loss.y.push_back(json_number(j, "loss", where));
    if (!j.contains("eval") || j["eval"].is_null()) continue;  // null: no --eval-task
    const nlohmann::json& scores = json_object_key(j, "eval", where);
    for (const auto& it : scores.items()) {
      if (it.key().find("stderr") != std::string::npos) continue;
      auto& s = eval[it.key()];
      s.name = it.key();
      s.x.push_back(step), s.y.push_back(json_number(scores, it.key(), where));
    }
  }
  write_svg_line_plot(dir / "loss.svg", {loss}, {"Supervised fine-tuning: loss on the answer tokens", "step", "nats / token", true});
  if (!eval.empty()) {
    std::vector<PlotSeries> v;
    for (auto& [k, s] : eval) v.push_back(s);
    write_svg_line_plot(dir / "eval.svg", v, {"Score of --eval-task during fine-tuning", "step", "score", false});
  }
}

}  // namespace

SftResult run_sft(const SftOptions& o) {
  const int64_t rank = o.group ? o.group->rank() : 0, world = o.group ? o.group->world_size() : 1;
  const bool root = rank == 0;
  if (o.batch < 1) fail("--batch-size", "must be at least 1");
  if (o.batch % world != 0)
    fail("--batch-size", "{} is not divisible by --gpus {} (each process takes batch / N rows of every step)", o.batch, world);
  if (o.task.empty() && o.data.empty()) fail("--task", "give --task NAME (its --split) or --data FILE.jsonl");

  LoadOptions lo;
  lo.device = parse_device(o.device);
  lo.dtype = !o.dtype.empty() ? parse_dtype(o.dtype, "--dtype") : lo.device.is_cuda() ? at::kBFloat16 : at::kFloat;
  auto model = CausalLM::load(o.model_dir, lo);
  const at::ScalarType dtype = model->dtype();
  configure_threads(o.threads, model->config().hidden_size);
  if (o.seq_len > model->config().max_position_embeddings)
    fail("--seq-len", "{} exceeds the model's max_position_embeddings {}", o.seq_len,
         model->config().max_position_embeddings);
  const Tokenizer tok = Tokenizer::load(o.model_dir);
  const eval::TextEncoder enc = eval::TextEncoder::from(tok);
  const fs::path tasks_dir = eval::tasks_dir_or_default(o.tasks_dir);

  // Data: documents -> rows (the same on every rank).
  std::vector<sft::Example> examples;
  if (!o.task.empty())
    examples = sft::task_examples(eval::resolve_task(o.task, o.data), tasks_dir, o.data.empty() ? o.split : "", enc);
  else
    examples = sft::jsonl_examples(o.data, enc);
  const sft::Rows rows = sft::make_rows(examples, o.seq_len, o.pack, 0);
  if (rows.skipped_too_long > 0 && root) {
    std::string first;
    for (const auto& w : rows.skipped_where) first += (first.empty() ? "" : ", ") + w;
    fmt::print(stderr, "sft: skipped {} of {} documents longer than --seq-len {} (first: {})\n", rows.skipped_too_long,
               examples.size(), o.seq_len, first);
  }
  if (rows.rows.empty()) fail("--seq-len", "every document is longer than {} tokens: nothing to train on", o.seq_len);
  const int64_t R = static_cast<int64_t>(rows.rows.size());
  const int64_t total = o.tokens > 0 ? std::max<int64_t>(1, (o.tokens + o.batch * o.seq_len - 1) / (o.batch * o.seq_len))
                                     : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.epochs * R / o.batch)));
  const int64_t warmup = o.warmup >= 0 ? o.warmup : total * 3 / 100;
  const LrSchedule schedule{o.lr, o.min_lr_ratio, warmup, total};

  AdamWOptions adamw;
  adamw.weight_decay = o.weight_decay;
  const ParamList selected = select_parameters(*model, o.train);
  model->requires_grad(false);
  TrainableParams params = TrainableParams::of(selected, model->device(), adamw);
  int64_t n_trained = 0;
  for (const auto& m : params.masters) n_trained += m.numel();

  std::optional<eval::TaskSpec> eval_spec;
  if (!o.eval_task.empty()) eval_spec = eval::resolve_task(o.eval_task, o.eval_data);
  auto score = [&]() -> nlohmann::json {
    if (!eval_spec) return nullptr;
    at::NoGradGuard ng;
    params.bind(dtype);
    eval::EvalOptions eo;
    eo.tasks_dir = tasks_dir, eo.limit = o.eval_limit, eo.progress = false;
    const eval::TaskResult tr = eval::evaluate_task(*model, enc, *eval_spec, eo);
    nlohmann::json j = nlohmann::json::object();
    for (const auto& m : tr.metrics) j[m.name] = m.value, j[m.name + "_stderr"] = m.stderr;
    return j;
  };

  const nlohmann::json fingerprint = {
      {"model", fs::absolute(o.model_dir).lexically_normal().string()}, {"task", o.task}, {"split", o.split},
      {"data", o.data}, {"train", o.train}, {"seq_len", o.seq_len}, {"batch", o.batch}, {"pack", o.pack},
      {"total_steps", total}, {"lr", o.lr}, {"min_lr_ratio", o.min_lr_ratio}, {"warmup", warmup},
      {"weight_decay", o.weight_decay}, {"clip", o.clip}, {"seed", o.seed}, {"dtype", dtype_name(dtype)},
      {"eval_task", o.eval_task}, {"eval_data", o.eval_data}, {"eval_limit", o.eval_limit}};
  const std::vector<CheckpointPart> parts = {{"", &params}};
  const fs::path& out = o.out_dir;
  OutputLock lock;  // on --out while this run writes it
  if (root) lock = OutputLock::acquire("--out", out);
  JsonlLog log;
  int64_t step = 0;
  double seconds_before = 0;
  SftResult r;
  if (!o.resume) {
    if (root) require_new_output_dir("--out", out, {o.model_dir}, "pass --resume to continue");
    if (root) fs::create_directories(out);
    log.open(out / "log.jsonl", -1, root);
  } else {
    if (!fs::exists(out / "checkpoint.safetensors"))
      fail((out / "checkpoint.safetensors").string(), "--resume: no checkpoint to resume from");
    require_same_settings(fingerprint, read_checkpoint_state(out));
    const nlohmann::json s = load_checkpoint(out, parts);
    const std::string ckpt = checkpoint_path(out).string();  // names the file in a damaged state's error
    step = json_int(s, "step", ckpt);
    seconds_before = json_number(s, "seconds", ckpt);
    r.eval_before = json_key(s, "eval_before", ckpt);
    log.open(out / "log.jsonl", step, root);
    if (root) fmt::print(stderr, "resuming at step {}/{}\n", step, total);
  }
  if (o.group) o.group->barrier();  // rank 0 has checked and opened --out
  if (root)
    fmt::print(stderr, "sft: {} documents in {} rows of {} tokens ({} answer tokens an epoch) | {} steps of {} rows | "
               "training {} parameters ({}) | {} on {}{}\n", rows.examples, R, o.seq_len, rows.answer_tokens, total,
               o.batch, n_trained, o.train, dtype_name(dtype), model->device().str(),
               world > 1 ? fmt::format(" x {} processes", world) : "");
  if (step == 0) {
    r.eval_before = score();
    log.write({{"step", 0}, {"eval", r.eval_before}});
  }

  LoopOptions lopt;
  lopt.name = "sft";
  lopt.total_steps = total, lopt.tokens_per_step = o.batch * o.seq_len;
  lopt.checkpoint_every = o.checkpoint_every, lopt.stop_after_steps = o.stop_after_steps;
  lopt.progress = o.progress, lopt.root = root, lopt.group = o.group;
  lopt.checkpoint_file = out / "checkpoint.safetensors";
  TrainLoop loop(lopt, step, seconds_before);
  double sum_loss = 0, last_loss = 0;
  int64_t since_log = 0;
  LoopHooks h;
  h.step = [&](int64_t s) {
    if (o.before_step) o.before_step(s, params.masters);
    const std::vector<int64_t> batch = sft::batch_rows(s, o.batch, R, o.seed);
    std::vector<const std::vector<int32_t>*> ids, labels;
    std::vector<int64_t> answer;
    int64_t count = 0;  // answer tokens of the global batch
    for (size_t b = 0; b < batch.size(); ++b) {
      const sft::Row& row = rows.rows[static_cast<size_t>(batch[b])];
      for (uint8_t a : row.answer) count += a;
      if (static_cast<int64_t>(b) % world != rank) continue;
      ids.push_back(&row.ids), labels.push_back(&row.labels);
      answer.insert(answer.end(), row.answer.begin(), row.answer.end());
    }
    const at::Device d = model->device();
    const at::Tensor mask = at::tensor(answer, at::kLong).view({static_cast<int64_t>(ids.size()), -1}).to(d).to(at::kBool);
    params.bind(dtype);
    const at::Tensor loss = answer_loss_sum(*model, long_tensor(ids, d), long_tensor(labels, d), mask) / static_cast<double>(count);
    loss.backward();
    std::vector<double> lv = {loss.item<double>()};
    if (o.group) {  // each rank's loss is its share of the global mean: gradients and losses add up
      params.all_reduce_grads(*o.group, /*average=*/false);
      lv = o.group->all_reduce(lv, dist::Reduce::kSum);
    }
    if (!std::isfinite(lv[0]))
      fail("sft", "loss is {} at step {} ({} rows from row {}); stopped before its update: the last checkpoint ({}) is "
           "left as it was", lv[0], s, batch.size(), batch[0],
           loop.last_checkpoint() < 0 ? "none yet" : "step " + std::to_string(loop.last_checkpoint()));
    clip_grad_norm(params.masters, o.clip);
    params.opt.step(schedule.at(s));
    params.opt.zero_grad();
    sum_loss += lv[0], last_loss = lv[0];
    ++since_log;
  };
  h.record = [&](int64_t s, bool last) {
    nlohmann::json line = {{"step", s}};
    if (s % o.log_every == 0 || last || s == 1) {
      line["loss"] = sum_loss / since_log, line["lr"] = schedule.at(s), line["seconds"] = loop.seconds();
      sum_loss = 0, since_log = 0;
    }
    if (eval_spec && ((o.eval_every > 0 && s % o.eval_every == 0) || last)) line["eval"] = r.eval_after = score();
    if (line.size() > 1) log.write(line);
  };
  h.checkpoint = [&] {
    const nlohmann::json state = {{"step", loop.step()}, {"total_steps", total}, {"seconds", loop.seconds()},
                                  {"eval_before", r.eval_before}, {"processes", world}, {"fingerprint", fingerprint}};
    save_checkpoint(out, parts, state);
  };
  h.status = [&] { return fmt::format("step {}/{} | loss {:.4f}", loop.step(), total, last_loss); };
  h.after_step = o.after_step;
  const bool finished = loop.run(h);
  r.steps = loop.step(), r.total_steps = total, r.seconds = loop.seconds(), r.last_loss = last_loss;
  r.examples = rows.examples, r.skipped_too_long = rows.skipped_too_long, r.rows = R;
  r.answer_tokens_per_epoch = rows.answer_tokens, r.trained_parameters = n_trained;
  if (!finished) {
    r.interrupted = true;
    return r;
  }
  if (eval_spec && r.eval_after.is_null()) r.eval_after = score();  // resumed a finished run
  if (!root) return r;

  // The model directory: every tensor of the input in its dtype, the trained ones from the masters.
  params.unbind();
  const WeightStore src = WeightStore::open_dir(o.model_dir);
  std::map<std::string, at::Tensor> master_of;
  for (size_t i = 0; i < params.names.size(); ++i) master_of[params.names[i]] = params.masters[i];
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : src.names()) {
    const at::Tensor t = src.tensor(name);
    auto m = master_of.find(name);
    tensors.emplace_back(name, m == master_of.end() ? t : m->second.detach().to(at::kCPU, t.scalar_type()).contiguous());
  }
  std::map<std::string, std::string> meta = {{"format", "pt"}};
  if (fs::exists(o.model_dir / "model.safetensors")) {
    const auto file = SafetensorsFile::open(o.model_dir / "model.safetensors");  // alive while iterated
    for (const auto& [k, v] : file->metadata())
      if (k.rfind("teacher_", 0) == 0) meta[k] = v;  // the hybrid's provenance carries over
  }
  save_safetensors(out / "model.safetensors", tensors, meta);
  copy_tokenizer_files(o.model_dir, out);
  write_file_atomic(out / "config.json", read_file(o.model_dir / "config.json"));

  const nlohmann::json report = {
      {"model", o.model_dir.string()}, {"task", o.task}, {"split", o.split}, {"data", o.data},
      {"train", o.train}, {"trained_parameters", n_trained}, {"device", model->device().str()},
      {"dtype", dtype_name(dtype)}, {"processes", world},
      {"documents", {{"read", examples.size()}, {"trained", rows.examples}, {"skipped_longer_than_seq_len", rows.skipped_too_long},
                     {"skipped_examples", rows.skipped_where}}},
      {"rows", {{"count", R}, {"seq_len", o.seq_len}, {"pack", o.pack}, {"answer_tokens_per_epoch", rows.answer_tokens}}},
      {"optimizer", {{"name", "adamw"}, {"lr", o.lr}, {"min_lr_ratio", o.min_lr_ratio}, {"warmup_steps", warmup},
                     {"betas", {adamw.beta1, adamw.beta2}}, {"eps", adamw.eps}, {"weight_decay", o.weight_decay},
                     {"clip", o.clip}, {"batch", o.batch}, {"steps", total}, {"epochs", static_cast<double>(total) * o.batch / R},
                     {"seed", o.seed}}},
      {"seconds", r.seconds}, {"tokens_per_second", r.seconds > 0 ? static_cast<double>(r.steps) * o.batch * o.seq_len / r.seconds : 0.0},
      {"peak_memory_bytes", peak_memory_bytes(model->device())}, {"final_loss", last_loss},
      {"eval_task", o.eval_task}, {"eval_data", o.eval_data}, {"eval_limit", o.eval_limit}, {"eval_before", r.eval_before}, {"eval_after", r.eval_after}};
  write_file_atomic(out / "sft.json", report.dump(2) + "\n");
  write_sft_plots(out);
  return r;
}

}  // namespace hyb
