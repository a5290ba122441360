// util/cuda_graph: a piece of fixed-shape GPU work recorded once as a CUDA graph and replayed,
// so that its hundreds of small kernels cost one launch. Code that uses it builds without CUDA
// too: there capture() reports that graphs are unavailable and the caller runs the work eagerly.
//
// The rules of a graph: the work must not wait on the host (no .item(), no copies to the CPU),
// and every tensor it reads or writes must stay at the same address between replays (static
// buffers the caller fills before replay(), parameters updated in place). Scalars that change
// between replays (a learning rate) must be device tensors, not host numbers: those are baked
// into the recorded kernels.
#pragma once
#include <functional>
#include <memory>
#include <string>

namespace hyb {

class CudaGraph {
 public:
  CudaGraph();
  ~CudaGraph();
  CudaGraph(CudaGraph&&) noexcept;
  CudaGraph& operator=(CudaGraph&&) noexcept;

  // Records `work` on a side stream of the current CUDA device; nothing runs (the first replay
  // does the work). Run the work eagerly at least once before, so that kernels are chosen and
  // workspaces allocated outside the graph. With `share_pool_of`, the graph allocates from that
  // graph's memory pool: safe for graphs that are replayed one at a time, in capture order.
  // Returns "" on success, else why the capture failed (the graph then stays empty).
  std::string capture(const std::function<void()>& work, const CudaGraph* share_pool_of = nullptr);
  // Runs the recorded work on the current stream. Requires captured().
  void replay();
  bool captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hyb
