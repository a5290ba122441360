// The one place where LibTorch 1.13 (Debian, CPU) and LibTorch 2.x (pip, CUDA) differ for us.
// Include only from .cpp files (it pulls in ATen).
//  - 1.13 has no scaled_dot_product_attention: hyb::compat::sdpa falls back to explicit math.
//  - 1.13 uses c10::optional; 2.x has std::optional. Use hyb::compat::optional.
//  - 1.13 has no fp16 matmul on CPU: callers compute fp16 weights in fp32 on CPU.
//  - Kineto profiler events: 1.13 reports times in microseconds, 2.x in nanoseconds.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

#if defined(TORCH_VERSION_MAJOR)
#include <torch/version.h>
#else
#include <torch/version.h>
#endif

namespace hyb::compat {

#if TORCH_VERSION_MAJOR >= 2
constexpr bool kHasSdpa = true;
#else
constexpr bool kHasSdpa = false;
#endif

template <typename T>
using optional = c10::optional<T>;

// Scaled dot-product attention, q [B,H,Tq,d], k/v [B,Hkv,Tk,d] with H a multiple of Hkv (query
// head h reads kv head h / (H/Hkv)); `mask` is additive ([.., Tq, Tk], 0 or -inf) or undefined;
// is_causal masks j > i (Tq == Tk: LibTorch aligns it to the top left). Uses the fused kernel
// (flash / memory-efficient) where LibTorch has one, else explicit fp32 math. Without a mask on
// LibTorch >= 2.5 grouped heads are read in place; otherwise K and V are repeated per query head.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                const at::Tensor& mask, double scale, bool is_causal = false);

// Duration of a profiler event (torch::autograd::profiler::KinetoEvent), in us.
template <typename Event>
double event_duration_us(const Event& e) {
#if TORCH_VERSION_MAJOR >= 2
  return e.durationNs() * 1e-3;
#else
  return static_cast<double>(e.durationUs());
#endif
}

}  // namespace hyb::compat

// c10d (src/dist/process_group.cpp only): since 2.0 the Gloo and NCCL process groups derive from
// c10d::Backend (ProcessGroup became a dispatcher over backends); in 1.13 from c10d::ProcessGroup.
// Both expose the collectives we use (allreduce, allgather, broadcast, barrier -> Work::wait()).
#if TORCH_VERSION_MAJOR >= 2
#define HYB_C10D_BACKEND ::c10d::Backend
#define HYB_C10D_BACKEND_HEADER <torch/csrc/distributed/c10d/Backend.hpp>
#else
#define HYB_C10D_BACKEND ::c10d::ProcessGroup
#define HYB_C10D_BACKEND_HEADER <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
