// hybridize sft --model DIR (--task NAME [--split train] | --data FILE.jsonl) --out DIR: supervised
// fine-tuning of any model directory on a task's training documents (sft/).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>

#include "cli/checks.h"
#include "cli/commands.h"
#include "dist/launch.h"
#include "sft/sft.h"

namespace hyb::cli {

void add_sft(CLI::App& app) {
  auto* cmd = app.add_subcommand("sft", "Supervised fine-tuning of a model directory on a task's training data (loss on the answers)");
  auto a = std::make_shared<SftOptions>();
  auto model = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto no_progress = std::make_shared<bool>(false), no_pack = std::make_shared<bool>(false);
  auto par = std::make_shared<dist::LaunchOptions>();
  cmd->add_option("--model", *model, "Model directory: a base checkpoint, an exported hybrid, a search's M_opt/")->required();
  cmd->add_option("--task", a->task, "Task whose training documents become prompt + target delimiter + gold answer (default: none, give it or --data)");
  cmd->add_option("--split", a->split, "The task's split to train on")->capture_default_str();
  cmd->add_option("--data", a->data,
                  "JSONL file: {\"prompt\", \"completion\"} lines; with --task, that task's documents in your file (default: none)");
  cmd->add_option("--tasks-dir", a->tasks_dir, "Directory of <task>/<split>.jsonl (default $HYB_TASKS_DIR, else a development checkout's ../shared/data/tasks)");
  cmd->add_option("--out", *out, "Output model directory (with sft.json, log.jsonl, loss.svg, eval.svg, checkpoint)")->required();
  cmd->add_option("--train", a->train, "Parameter groups to train: all, or linear, attention, mlp (comma-separated)")
      ->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "Passes over the training rows (unless --tokens)")->check(positive())
      ->capture_default_str();
  cmd->add_option("--tokens", a->tokens, "Train on this many row tokens (batch x seq-len a step) instead of --epochs")
      ->check(non_negative());
  cmd->add_option("--seq-len", a->seq_len, "Tokens per row; longer documents are skipped (counted in sft.json)")
      ->check(positive())->capture_default_str();
  cmd->add_option("--batch-size", a->batch, "Rows per step (global with --gpus)")->check(positive())->capture_default_str();
  cmd->add_flag("--no-pack", *no_pack, "One document a row, padded (default: documents packed into rows)");
  cmd->add_option("--lr", a->lr, "Peak learning rate")->check(positive())->capture_default_str();
  cmd->add_option("--min-lr-ratio", a->min_lr_ratio, "Final lr as a fraction of --lr (cosine)")
      ->check(number_in(0, 1, "a number from 0 to 1"))->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Warm-up steps (default: 3% of the steps)");
  cmd->add_option("--weight-decay", a->weight_decay, "AdamW decoupled weight decay (matrices)")->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--clip", a->clip, "Gradient-norm clip (0: off)")->check(non_negative())->capture_default_str();
  cmd->add_option("--eval-task", a->eval_task, "Task scored (its default split, e.g. test) before, after and every --eval-every steps (default: none)");
  cmd->add_option("--eval-data", a->eval_data, "--eval-task's documents from this file (a built-in task's rules, or the generic format; default: the task's in --tasks-dir)");
  cmd->add_option("--eval-every", a->eval_every, "Score --eval-task every K steps (0: before and after only)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--eval-limit", a->eval_limit, "Score only the first N documents of --eval-task")->check(non_negative());
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Checkpoint every K steps (0: at the end only)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--log-every", a->log_every, "Log line every K steps")->check(positive())->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the row order")->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Continue from --out's checkpoint (same settings and data)");
  a->device = "auto";
  cmd->add_option("--device", a->device, "auto (CUDA when available), cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "Compute dtype (default: bfloat16 on CUDA, float32 on CPU)");
  cmd->add_option("--threads", a->threads, "CPU threads (default: all cores, 1 for tiny models)")->check(thread_count());
  cmd->add_flag("--no-progress", *no_progress, "No progress bar");
  add_parallel_options(cmd, *par, "data parallel, --batch-size is global");
  cmd->add_option("--stop-after-steps", a->stop_after_steps,
                  "Stop after this step as on Ctrl-C: checkpoint, exit code 130, continue with --resume");
  cmd->callback([a, model, out, no_progress, no_pack, par] {
    a->model_dir = *model;
    a->out_dir = *out;
    a->pack = !*no_pack;
    auto group = dist::join_or_launch(*par, a->device);  // the launcher exits here with its workers' code
    a->group = group.get();
    const bool root = !group || group->is_root();
    a->progress = !*no_progress && root;
    SftResult r = run_sft(*a);
    group.reset();
    if (r.interrupted) std::exit(130);
    if (!root) return;
    fmt::print("fine-tuned {} parameters ({}) for {} steps on {} documents ({} skipped: longer than --seq-len) in {:.1f} s; "
               "final loss {:.4f}\n", r.trained_parameters, a->train, r.steps, r.examples, r.skipped_too_long, r.seconds,
               r.last_loss);
    if (!r.eval_before.is_null())
      fmt::print("{}: before {} -> after {}\n", a->eval_task, r.eval_before.dump(), r.eval_after.dump());
    fmt::print("wrote the model directory {} (sft.json, log.jsonl, loss.svg)\n", *out);
  });
}

}  // namespace hyb::cli
