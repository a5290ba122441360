#include "util/cuda_graph.h"

#include <ATen/ATen.h>

#include <exception>

#ifdef HYB_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace hyb {

struct CudaGraph::Impl {
#ifdef HYB_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

CudaGraph::CudaGraph() : impl_(std::make_unique<Impl>()) {}
CudaGraph::~CudaGraph() = default;
CudaGraph::CudaGraph(CudaGraph&&) noexcept = default;
CudaGraph& CudaGraph::operator=(CudaGraph&&) noexcept = default;

bool CudaGraph::captured() const {
#ifdef HYB_WITH_CUDA
  return impl_->graph != nullptr;
#else
  return false;
#endif
}

std::string CudaGraph::capture(const std::function<void()>& work, const CudaGraph* share_pool_of) {
#ifdef HYB_WITH_CUDA
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  // Everything queued before (the static inputs' contents) is done before recording starts.
  c10::cuda::device_synchronize();
  c10::cuda::CUDAStreamGuard side(c10::cuda::getStreamFromPool());
  bool recording = false;
  try {
    if (share_pool_of && share_pool_of->captured()) graph->capture_begin(share_pool_of->impl_->graph->pool());
    else graph->capture_begin();
    recording = true;
    work();
    recording = false;
    graph->capture_end();
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (recording) {
      try {
        graph->capture_end();  // leave the stream out of capture mode, whatever it recorded
      } catch (const std::exception&) {
      }
    }
    return why.substr(0, why.find('\n'));
  }
  impl_->graph = std::move(graph);
  return "";
#else
  (void)work, (void)share_pool_of;
  return "this build has no CUDA";
#endif
}

void CudaGraph::replay() {
#ifdef HYB_WITH_CUDA
  TORCH_CHECK(impl_->graph, "CudaGraph::replay: nothing captured");
  impl_->graph->replay();
#else
  TORCH_CHECK(false, "CudaGraph::replay: this build has no CUDA");
#endif
}

}  // namespace hyb
