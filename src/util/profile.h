// util/profile: where the GPU time of a piece of work goes. Runs it once under LibTorch's (Kineto)
// profiler and sums its GPU kernels: how many, the time the GPU was busy against the work's wall
// time (the rest is launch and host overhead), the share of each kind of kernel (matmuls,
// elementwise, reductions, copies, ours), and the costliest kernels by name. PyTorch's generic
// elementwise and reduction kernels are named after the operation they run (their functor), so that
// "vectorized_elementwise_kernel" does not hide which op costs. bench_linear --profile and
// distill --profile-step print it.
#pragma once
#include <c10/core/Device.h>

#include <functional>
#include <string>

namespace hyb {

// Runs `work` under the profiler (then waits for `device`) and formats the summary: a first line
// "<what>: N kernels, GPU busy X ms of W ms wall", the groups, then the `top` costliest kernels,
// each line indented by `indent` spaces. `wall_ms` is the work's unprofiled time (<= 0: the
// profiled run's own wall time is used).
std::string profile_kernels(const std::string& what, const std::function<void()>& work, c10::Device device,
                            double wall_ms = 0, size_t top = 5, int indent = 2);

// The label a kernel is summed under (exposed for the tests): its name without "void ",
// namespaces and template arguments, and for PyTorch's generic elementwise / reduction kernels the
// operation inside, e.g. "vectorized_elementwise_kernel[silu_kernel]".
std::string kernel_label(const std::string& name);

}  // namespace hyb
