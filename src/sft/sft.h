// sft: supervised fine-tuning (the paper's §4.2.6) of any model directory (a base checkpoint, an
// exported hybrid, a search's M_opt/) on a task's training documents or a prompt/completion file:
//
//   loss = - sum over answer tokens of log p(answer token | everything before it) / answer tokens
//
// (the prompt's tokens are read, never scored: sft/examples). Full fine-tuning by default, or only
// some parameter groups (--train linear,attention,mlp: the others stay byte for byte as loaded).
// It runs on the training core (train/): fp32 masters with bf16 compute on CUDA, AdamW, warm-up and
// cosine, gradient clipping, checkpoints and --resume (bit for bit on CPU), Ctrl-C, --gpus N.
// Writes to --out:
//   config.json, model.safetensors, tokenizer files   a model directory every command loads (the
//                                                     input's format: same tensors and dtypes)
//   sft.json       settings, data counts (skipped documents), loss, time, eval scores before / after
//   log.jsonl, loss.svg, eval.svg (with --eval-task), checkpoint.safetensors while it runs
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "model/module.h"

namespace hyb {

class CausalLM;
namespace dist {
class ProcessGroup;
}

struct SftOptions {
  std::filesystem::path model_dir, out_dir;
  std::string task;               // --task: a built-in task (or, with `data`, a task of that file)
  std::string split = "train";
  std::string data;               // --data FILE.jsonl: {"prompt","completion"}; with --task that task's rules
  std::string tasks_dir;          // --tasks-dir ("" : $HYB_TASKS_DIR, ../shared/data/tasks)
  std::string train = "all";      // parameter groups: all | linear | attention | mlp, comma-separated
  double epochs = 1;              // used when tokens == 0
  int64_t tokens = 0;             // > 0: train on this many row tokens instead of epochs
  int64_t batch = 8, seq_len = 512;
  bool pack = true;               // false: one document a row, padded
  double lr = 2e-5, min_lr_ratio = 0.1, weight_decay = 0.0, clip = 1.0;
  int64_t warmup = -1;            // steps; < 0: 3% of the steps
  std::string eval_task;          // scored before, after, and every eval_every steps
  std::string eval_data;          // --eval-data FILE: that task's documents from this file
  int64_t eval_every = 0, eval_limit = 0;
  int64_t checkpoint_every = 200, log_every = 10;
  bool resume = false;
  std::string device = "cpu", dtype;  // dtype "": bf16 on CUDA, fp32 on CPU
  int threads = 0;
  uint64_t seed = 0;
  bool progress = true;
  int64_t stop_after_steps = 0;
  dist::ProcessGroup* group = nullptr;  // data parallel: --batch-size is global, rank r takes rows r, r+N, ...

  // Test hook: sees the fp32 masters before each step (may write a NaN).
  std::function<void(int64_t step, std::vector<at::Tensor>& masters)> before_step;
  std::function<void(int64_t step)> after_step;
};

struct SftResult {
  int64_t steps = 0, total_steps = 0;
  bool interrupted = false;
  double seconds = 0, last_loss = 0;
  int64_t examples = 0, skipped_too_long = 0, rows = 0, answer_tokens_per_epoch = 0;
  int64_t trained_parameters = 0;
  nlohmann::json eval_before, eval_after;  // {"acc": .., "acc_norm": ..} of --eval-task (null without)
};

SftResult run_sft(const SftOptions& opt);

// What the tests check directly.
// The model's parameters in the groups of `spec` (hyb::Error naming --train for an unknown group
// or a selection with no parameters).
ParamList select_parameters(CausalLM& model, const std::string& spec);
// The training loss's numerator: sum over the answer positions of -log p(labels[b,t] | ids[b,<=t])
// (fp32, differentiable), the head run on those positions only (the [B,T,V] logits of a large
// vocabulary are never formed). ids, labels [B,T] int64; answer [B,T] bool.
at::Tensor answer_loss_sum(CausalLM& model, const at::Tensor& ids, const at::Tensor& labels, const at::Tensor& answer);

}  // namespace hyb
