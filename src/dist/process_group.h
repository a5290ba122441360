// dist: one run spread over several processes of one host (one per GPU, or several on CPU for
// tests), on LibTorch's c10d process groups: NCCL between GPUs, Gloo between CPU processes.
//
//   launch     `--gpus N`: the first process starts N workers (this executable, same arguments,
//              rank / world size / rendezvous port in the environment) and waits for them
//   ProcessGroup  what the workers share: a TCPStore rendezvous on the master (rank 0 serves it;
//              127.0.0.1 for --gpus, MASTER_ADDR under torchrun or Slurm, across hosts)
//              and the few collectives distill and search need, behind our own interface so that
//              c10d headers stay inside process_group.cpp
//
// Every collective must be called by every rank in the same order (c10d's rule).
#pragma once
#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hyb::dist {

// This process's place in a run of several processes, from the launcher's environment:
//   hybridize --gpus N   HYB_RANK, HYB_WORLD_SIZE, HYB_LOCAL_RANK, HYB_LOCAL_WORLD_SIZE, HYB_MASTER_ADDR
//                        (127.0.0.1 on one host, --master with --nnodes), HYB_MASTER_PORT
//   torchrun             RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Slurm (srun)         SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, and MASTER_ADDR or else the first
//                        host of SLURM_JOB_NODELIST, MASTER_PORT or else 29500
// in this order of precedence. One GPU per process: cuda:<local_rank>.
struct WorkerEnv {
  int rank = 0, world_size = 1, local_rank = 0, port = 0;
  int local_world_size = 1;  // processes on this host; 0 where the launcher does not say (Slurm)
  std::string master_addr = "127.0.0.1";
  std::string launcher = "hybridize --gpus";  // who set the variables, for messages
};
// Set when this process is one rank of several (a world of 1 under torchrun or Slurm is none);
// throws hyb::Error naming the variable on a malformed or missing one.
std::optional<WorkerEnv> worker_env();
// The first host of a Slurm hostlist expression: "gpu[03-05,07],cpu1" -> "gpu03".
std::string first_slurm_host(const std::string& nodelist);

enum class Reduce { kSum, kAvg };

// "" when this build can run `--gpus N` on CUDA (NCCL) or CPU (Gloo), else what is missing.
std::string backend_missing(bool cuda);

class ProcessGroup {
 public:
  // Rendezvous and backend creation. CUDA: NCCL, and this process's current device becomes
  // cuda:<rank>. Collectives and the rendezvous fail after `timeout` instead of hanging.
  static std::unique_ptr<ProcessGroup> create(const WorkerEnv& env, bool cuda, std::chrono::seconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;
  bool is_root() const { return rank() == 0; }

  // Reduces each tensor elementwise across ranks, in place (same shapes and dtypes on every rank,
  // on this rank's device). The tensors travel packed in one buffer per dtype: one collective.
  void all_reduce(std::vector<at::Tensor>& tensors, Reduce op);
  std::vector<double> all_reduce(const std::vector<double>& values, Reduce op);
  bool any(bool flag);  // true on every rank when it is true on one
  // Every rank's values, by rank; the lengths may differ between ranks.
  std::vector<std::vector<double>> all_gather(const std::vector<double>& mine);
  void broadcast(std::vector<double>& values, int root);  // same length on every rank
  void barrier();

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hyb::dist
