// dist/launch: `--gpus N` on a command. The process the user started becomes a launcher: it picks
// a free port on 127.0.0.1, starts N workers (this executable, /proc/self/exe, with the same
// arguments and HYB_RANK / HYB_WORLD_SIZE / HYB_MASTER_PORT in the environment, NCCL_NVLS_ENABLE=0),
// forwards SIGINT / SIGTERM to them once, and waits. A worker that fails (any exit but 0, or 130
// after a signal: a clean stop) makes it stop the others and exit non-zero naming that rank, so a
// crash never leaves the rest hanging in a collective.
#pragma once
#include <memory>
#include <string>

#include "dist/process_group.h"

namespace hyb::dist {

// Starts `n` workers of this command line and waits for them; returns the exit code to use.
int launch_workers(int n);

// The command's side of `--gpus N`:
//   n <= 1 and not a worker: nullptr (one process, no group).
//   the launching process: checks that the backend exists, runs launch_workers and exits with
//     its code (never returns).
//   a worker (of ours, or a process torchrun / srun started: dist::worker_env): its process group
//     (Gloo, or NCCL on cuda:<local rank> when `cuda`). Under torchrun or Slurm, `n` must be 1 (the
//     default) or the processes per host.
// `device` is the command's --device ("cpu", "cuda", "auto", ...): a worker on CUDA gets it back
// as "cuda:<local rank>"; "cuda:K" with n > 1 is refused.
std::unique_ptr<ProcessGroup> join_or_launch(int n, std::string& device);

}  // namespace hyb::dist
