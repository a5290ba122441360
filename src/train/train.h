// train: the training core that distillation (distill/), supervised fine-tuning (sft/) and the
// demo's teacher pretraining (demo/pretrain) run on. Its parts, each one job:
//
//   adamw       AdamW on fp32 tensors, gradient-norm clipping
//   schedule    the learning rate: linear warm-up, then cosine (or constant)
//   params      trainable parameters: fp32 masters bound into a module's parameter slots in the
//               compute dtype (bf16 on CUDA), their AdamW, data-parallel gradient averaging
//   checkpoint  checkpoint.safetensors: masters, moments and the run's state, written atomically;
//               resume checks that the settings are the checkpoint's
//   log         log.jsonl, kept to the checkpoint's step on resume
//   loop        the step loop: stop on Ctrl-C / SIGTERM / --stop-after-steps (agreed by every rank),
//               checkpoint cadence, progress bar, training time over resumed runs
//
// What a run computes in a step (its loss, its CUDA graphs where they apply) stays with the run.
#pragma once
