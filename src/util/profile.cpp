// util/profile: see profile.h.
#include "util/profile.h"

#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "util/device.h"
#include "util/torch_compat.h"

namespace hyb {

namespace {

bool has(const std::string& s, const char* w) { return s.find(w) != std::string::npos; }

// What a kernel does, from its names (cuBLAS / CUTLASS matmuls, the triangular solve, PyTorch's
// elementwise, reduction / scan and copy kernels, ours).
const char* kernel_group(const std::string& name, const std::string& base) {
  if (has(name, "trsm")) return "triangular solve";
  if (has(name, "hyb::")) return "hybridize kernels";
  for (const char* w : {"gemm", "gemv", "xmma", "nvjet", "cutlass", "cublas", "sm90_xmma"})
    if (has(base, w)) return "matmul";
  for (const char* w : {"flash", "fmha", "attention"})
    if (has(base, w)) return "attention";
  for (const char* w : {"Copy", "Memcpy", "Memset", "index", "copy_kernel", "cat"})
    if (has(base, w) || has(name, w)) return "copy / layout";
  for (const char* w : {"reduce", "scan", "Scan", "norm"})
    if (has(base, w)) return "reduction / scan";
  if (has(base, "elementwise")) return "elementwise";
  return "other";
}

}  // namespace

std::string kernel_label(const std::string& full) {
  std::string n = full;
  if (n.rfind("void ", 0) == 0) n = n.substr(5);
  for (size_t p; (p = n.find("(anonymous namespace)::")) != std::string::npos;)
    n.erase(p, std::strlen("(anonymous namespace)::"));
  const size_t args = std::min(n.find('<'), n.find('('));
  std::string base = n.substr(0, args);
  for (size_t p; (p = base.find("at::native::")) != std::string::npos;) base.erase(p, std::strlen("at::native::"));
  // PyTorch's generic kernels: the first at::native identifier inside the template arguments
  // names the operation (a functor such as MulFunctor, or the kernel function a lambda lives in).
  if (args != std::string::npos && (has(base, "elementwise") || has(base, "reduce_kernel"))) {
    const std::string inner = n.substr(args);
    // The first identifier that is neither a namespace nor a generic wrapper.
    auto wrapper = [](const std::string& id) {
      return id == "ReduceOp" || id == "func_wrapper_t" || id.rfind("gpu_kernel", 0) == 0;
    };
    for (size_t p = inner.find("at::native::"); p != std::string::npos; p = inner.find("at::native::", p + 1)) {
      size_t s = p + std::strlen("at::native::"), e = s;
      while (e < inner.size() && (std::isalnum(static_cast<unsigned char>(inner[e])) || inner[e] == '_')) ++e;
      const std::string id = inner.substr(s, e - s);
      if (!id.empty() && inner.compare(e, 2, "::") != 0 && !wrapper(id)) return base + "[" + id + "]";
    }
  }
  return base.size() > 60 ? base.substr(0, 57) + "..." : base;
}

std::string profile_kernels(const std::string& what, const std::function<void()>& work, c10::Device device,
                            double wall_ms, size_t top, int indent) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  synchronize(device);
  prof::prepareProfiler(config, activities);
  const auto t0 = std::chrono::steady_clock::now();
  prof::enableProfiler(config, activities);
  work();
  synchronize(device);
  auto result = prof::disableProfiler();
  if (wall_ms <= 0) wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  struct Sum {
    int64_t count = 0;
    double us = 0;
  };
  std::map<std::string, Sum> groups, kernels;
  Sum all;
  for (const auto& e : result->events()) {
    if (e.deviceType() != c10::DeviceType::CUDA) continue;
    const double us = compat::event_duration_us(e);
    const std::string name = e.name(), label = kernel_label(name);
    for (Sum* s : {&groups[kernel_group(name, label)], &kernels[label], &all}) s->count += 1, s->us += us;
  }
  const std::string pad(indent, ' ');
  std::string out = fmt::format("{}{}: {} kernels, GPU busy {:.2f} ms of {:.2f} ms wall ({:.0f}%), {:.1f} us per kernel\n",
                                pad, what, all.count, all.us * 1e-3, wall_ms, 100 * all.us * 1e-3 / wall_ms,
                                all.us / std::max<int64_t>(all.count, 1));
  if (all.count == 0) return out;
  out += pad + "  by group:";
  for (const auto& [g, s] : groups) out += fmt::format(" {} {:.0f}% ({})", g, 100 * s.us / all.us, s.count);
  out += "\n";
  std::vector<std::pair<std::string, Sum>> ranked(kernels.begin(), kernels.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second.us > b.second.us; });
  for (size_t i = 0; i < std::min(top, ranked.size()); ++i)
    out += fmt::format("{}  {:>5.1f}% {:>6}x {:>8.1f} us  {}\n", pad, 100 * ranked[i].second.us / all.us,
                       ranked[i].second.count, ranked[i].second.us / ranked[i].second.count, ranked[i].first);
  return out;
}

}  // namespace hyb
