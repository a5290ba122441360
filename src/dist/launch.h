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

// How a command spreads over processes: --gpus per host, and with --nnodes > 1 this host's place
// among several (each host runs the same command with its --node-rank; rank 0 of host 0 serves
// the rendezvous at --master HOST:PORT).
struct LaunchOptions {
  int gpus = 1;
  int nnodes = 1, node_rank = 0;
  std::string master;  // HOST:PORT, needed when nnodes > 1
  int world() const { return gpus * nnodes; }
};

// Starts this host's o.gpus workers of this command line (global ranks node_rank * gpus + i) and
// waits for them; returns the exit code to use.
int launch_workers(const LaunchOptions& o);

// The command's side of `--gpus N` (and `--nnodes`): with n = o.world() processes in all,
//   n <= 1 and not a worker: nullptr (one process, no group).
//   the launching process: checks that the backend exists, runs launch_workers and exits with
//     its code (never returns).
//   a worker (of ours, or a process torchrun / srun started: dist::worker_env): its process group
//     (Gloo, or NCCL on cuda:<local rank> when `cuda`). Under torchrun or Slurm, `n` must be 1 (the
//     default) or the processes per host.
// `device` is the command's --device ("cpu", "cuda", "auto", ...): a worker on CUDA gets it back
// as "cuda:<local rank>"; "cuda:K" with n > 1 is refused.
std::unique_ptr<ProcessGroup> join_or_launch(const LaunchOptions& o, std::string& device);

}  // namespace hyb::dist
