// hybridize distill --model DIR --mixer gla|gdn|jet --data FILE... --out DIR: blockwise local
// distillation of every selected layer's attention into a linear-attention module (distill/).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdlib>

#include "cli/checks.h"
#include "cli/commands.h"
#include "dist/launch.h"
#include "distill/distill.h"
#include "linear/kinds.h"
#include "util/error.h"

namespace hyb::cli {

void add_distill(CLI::App& app) {
  auto* cmd = app.add_subcommand("distill", "Distil each attention layer into a linear-attention module (phase 1)");
  auto a = std::make_shared<DistillOptions>();
  auto model = std::make_shared<std::string>(), tok = std::make_shared<std::string>(),
       out = std::make_shared<std::string>();
  auto no_progress = std::make_shared<bool>(false);
  auto par = std::make_shared<dist::LaunchOptions>();
  cmd->add_option("--model", *model, "Teacher model directory (Hugging Face Llama / Qwen2)")->required();
  cmd->add_option("--tokenizer", *tok, "Tokenizer directory or tokenizer.json (default: the model's)");
  cmd->add_option("--mixer", a->mixer, "Linear module: " + mixer_kind_list())
      ->check(CLI::IsMember(mixer_kind_names()))->capture_default_str();
  cmd->add_option("--norm-eps", a->norm_eps,
                  "Epsilon of the modules' output RMSNorm (default 1e-6; the parent's rms_norm_eps makes an "
                  "`export --to fla` exact, as fla has one norm_eps)")
      ->check(positive());
  cmd->add_option("--data", a->data, "Training text: .txt (blank-line separated documents) or .jsonl (\"text\"); files or globs")
      ->required();
  cmd->add_option("--eval-data", a->eval_data, "Held-out text (default: the first --eval-sequences of --data)");
  cmd->add_option("--out", *out, "Output directory (linear.safetensors, distill.json, log.jsonl, checkpoints, plots)")
      ->required();
  cmd->add_option("--tokens", a->tokens, "Training tokens")->check(positive())->capture_default_str();
  cmd->add_option("--seq-len", a->seq_len, "Tokens per sequence")->check(positive())->capture_default_str();
  cmd->add_option("--batch-size", a->batch, "Sequences per step")->check(positive())->capture_default_str();
  cmd->add_option("--lr", a->lr, "Peak learning rate")->check(positive())->capture_default_str();
  cmd->add_option("--min-lr-ratio", a->min_lr_ratio, "Final lr as a fraction of --lr (cosine)")
      ->check(number_in(0, 1, "a number from 0 to 1"))->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Warm-up steps (default: 2% of the steps)");
  cmd->add_option("--weight-decay", a->weight_decay, "AdamW decoupled weight decay (matrices)")->check(non_negative())->capture_default_str();
  cmd->add_option("--clip", a->clip, "Per-layer gradient-norm clip (0: off)")->check(non_negative())->capture_default_str();
  cmd->add_option("--layers", a->layers, "Layers to distil, e.g. 0-27 or 0,2,5-7 (default: all)");
  cmd->add_option("--seed", a->seed, "Seed of the fresh gate parameters")->capture_default_str();
  cmd->add_option("--eval-every", a->eval_every, "Held-out evaluation every K steps (0: start and end only)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--eval-sequences", a->eval_sequences, "Held-out sequences")->check(positive())
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Checkpoint every K steps (0: at the end only)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--log-every", a->log_every, "Log line every K steps")->check(positive())
      ->capture_default_str();
  cmd->add_flag("--resume", a->resume, "Continue from --out's checkpoint (same settings and data)");
  a->device = "auto";
  cmd->add_option("--device", a->device, "auto (CUDA when available), cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "Compute dtype (default: bfloat16 on CUDA, float32 on CPU)");
  add_kernels_option(cmd);
  cmd->add_option("--threads", a->threads, "CPU threads (default: all cores, 1 for tiny models)")->check(thread_count());
  cmd->add_flag("--fold-vocab", a->fold_vocab, "Map token ids >= the model's vocab to id % vocab (random test fixtures)");
  cmd->add_flag("--no-progress", *no_progress, "No progress bar");
  add_parallel_options(cmd, *par, "data parallel, --batch-size is the global batch");
  cmd->add_option("--stop-after-steps", a->stop_after_steps,
                  "Stop after this step as on Ctrl-C: checkpoint, exit code 130, continue with --resume");
  cmd->add_option("--profile-step", a->profile_step,
                  "Print where this step's time goes: the teacher and the students apart, and the GPU kernels by "
                  "kind (0: off; take a step after the CUDA graphs are captured, from 3 on)")
      ->check(non_negative())->capture_default_str();
  auto no_graph = std::make_shared<bool>(false);
  cmd->add_flag("--no-graph", *no_graph,
                "CUDA: run every step's student updates op by op instead of replaying them as CUDA graphs");
  cmd->callback([a, model, tok, out, no_progress, par, no_graph] {
    a->cuda_graph = !*no_graph;
    a->model_dir = *model;
    a->tokenizer_dir = *tok;
    a->out_dir = *out;
    if (par->world() > 1 && a->batch % par->world() != 0)  // said before any worker starts
      fail("--batch-size", "{} is not divisible by --gpus {}{} (each process takes batch / N sequences of every step)", a->batch,
           par->gpus, par->nnodes > 1 ? fmt::format(" x --nnodes {}", par->nnodes) : "");
    auto group = dist::join_or_launch(*par, a->device);  // the launcher exits here with its workers' code
    a->group = group.get();
    const bool root = !group || group->is_root();
    a->progress = !*no_progress && root;
    DistillResult r = run_distill(*a);
    group.reset();
    if (r.interrupted) std::exit(130);  // the run stopped early (its checkpoint is written)
    if (!root) return;
    fmt::print("distilled {} layers over {} tokens in {:.1f} s ({:.0f} tokens/s)\n", r.end.size(), r.tokens,
               r.seconds, r.seconds > 0 ? r.tokens / r.seconds : 0.0);
    fmt::print("layer   held-out rel-MSE start -> end\n");
    for (size_t i = 0; i < r.end.size(); ++i)
      fmt::print("{:5d}   {:10.4f} -> {:.4f}\n", r.end[i].layer, r.start[i].rel_mse, r.end[i].rel_mse);
    fmt::print("wrote {}/linear.safetensors, distill.json, log.jsonl, loss.svg, heldout.svg\n", *out);
  });
}

}  // namespace hyb::cli
