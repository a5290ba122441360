// dist: one run spread over several processes of one host (one per GPU, or several on CPU for
// tests), on LibTorch's c10d process groups: NCCL between GPUs, Gloo between CPU processes.
//
//   launch     `--gpus N`: the first process starts N workers (this executable, same arguments,
//              rank / world size / rendezvous port in the environment) and waits for them
//   ProcessGroup  what the workers share: a TCPStore rendezvous on 127.0.0.1 (rank 0 serves it)
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

// What the launcher passes to each worker: HYB_RANK, HYB_WORLD_SIZE, HYB_MASTER_PORT.
struct WorkerEnv {
  int rank = 0, world_size = 1, port = 0;
};
// Set when this process is a worker started by launch_workers (throws on malformed variables).
std::optional<WorkerEnv> worker_env();

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
