// distill: phase 1 of Distill-then-Replace, blockwise local distillation (BLD).
//
// For every selected layer l a linear-attention student S_l sees exactly what layer l's attention
// A_l sees in the frozen teacher, x_l = RMSNorm_l(h_{l-1}), and learns to reproduce its output:
//
//   loss_l = MSE(A_l(x_l), S_l(x_l)) = mean over batch, tokens and channels of (A_l(x_l) - S_l(x_l))^2
//
// Embeddings, MLPs, norms and the head stay frozen and the targets come from the teacher's own
// hidden states, so the layers are independent: one teacher forward (capturing every (x_l, A_l(x_l))
// through the model's MixerHook) feeds every student, and each student takes its own backward
// and AdamW step. Relative MSE = MSE / Var(A_l(x_l)) makes layers of different scales comparable
// (1 = no better than predicting the mean output).
//
// Files of this folder: data (corpus -> packed sequences), trainer (the distillation step, metrics
// and outputs on the training core of train/: optimiser, schedule, checkpoints, loop; it writes
// linear.safetensors through linear/linear_file), perplexity (held-out perplexity of a full or
// hybrid model).
// Students, captures, held-out evaluation and checkpoints: students.h (internal).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hyb {

namespace dist {
class ProcessGroup;
}

struct DistillOptions {
  std::filesystem::path model_dir, tokenizer_dir, out_dir;  // tokenizer_dir empty: the model's
  std::string mixer = "gla";                                // a kind of linear/kinds: gla | gdn | jet
  double norm_eps = 0;  // > 0: the modules' output-norm epsilon (0: LinearSettings' default, 1e-6)
  std::vector<std::string> data;       // training files or globs (.txt, .jsonl)
  std::vector<std::string> eval_data;  // held-out files; empty: the first sequences of `data`
  int64_t tokens = 100'000'000;        // training tokens (the paper: ~100M)
  int64_t seq_len = 1024, batch = 8;
  double lr = 1e-3, min_lr_ratio = 0.1;  // cosine from lr down to lr * min_lr_ratio
  int64_t warmup = -1;                   // steps; < 0: 2% of the steps
  double weight_decay = 0.01, clip = 1.0;
  std::string layers;  // "0-27", "0,3,5-7", "all" (empty = all)
  uint64_t seed = 0;
  int64_t eval_every = 500, checkpoint_every = 500, log_every = 10;
  int64_t eval_sequences = 16;  // held-out sequences
  bool resume = false;
  std::string device = "cpu";  // cpu | cuda | cuda:N | auto (CUDA when available; the CLI's default)
  std::string dtype;           // empty: bf16 on CUDA, fp32 on CPU
  int threads = 0;                    // 0: util/threads default
  bool fold_vocab = false;            // see PackOptions::fold_vocab (random fixtures only)
  bool progress = true;
  int64_t stop_after_steps = 0;  // > 0: stop as on a signal after this step (checkpoint, interrupted)
  bool cuda_graph = true;        // CUDA, one process: replay each student's update as a CUDA graph
  int64_t profile_step = 0;      // > 0: print where this step's time goes (util/profile; teacher / students)

  // Data parallel over the ranks of `group` (nullptr: one process). The global batch `batch` is
  // split: rank r trains on sequences r, r+N, ... of every step's batch (the same sequences as
  // one process); gradients are averaged before clipping and AdamW, metrics reduced, and rank 0
  // alone writes files. Checkpoints count sequences globally, so --resume may change N.
  dist::ProcessGroup* group = nullptr;

  // Test hooks. poison_capture sees each captured (input, target) before its student does, and
  // may change it (e.g. write a NaN); after_step runs after each completed step.
  std::function<void(int64_t step, int64_t layer, at::Tensor& in, at::Tensor& target)> poison_capture;
  std::function<void(int64_t step)> after_step;
};

struct LayerMetrics {
  int64_t layer = 0;
  double mse = 0, rel_mse = 0;
};

struct DistillResult {
  int64_t steps = 0, total_steps = 0, tokens = 0;  // steps done (all runs), planned, tokens trained on
  bool interrupted = false;                        // stopped by a signal; a checkpoint was written
  bool cuda_graphs = false;                        // the students' updates were replayed as CUDA graphs
  double seconds = 0;                              // training time over all runs
  std::vector<LayerMetrics> start, end;            // held-out metrics at initialisation / at the end
};

// Runs (or resumes) a distillation into opt.out_dir. Throws hyb::Error for bad input, for a
// non-finite loss (naming the layer and step; outputs and the last checkpoint are left as they
// were) and for a --resume whose settings differ from the checkpoint's.
DistillResult run_distill(const DistillOptions& opt);

// "all", "" -> 0..n-1; "0-3,7" -> {0,1,2,3,7} (sorted, unique). Throws hyb::Error naming `where`.

}  // namespace hyb
