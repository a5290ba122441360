#include "util/device.h"

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "util/error.h"

#ifdef HYB_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#include <torch/cuda.h>
#endif

namespace hyb {

at::ScalarType parse_dtype(const std::string& n, const std::string& where) {
  if (n == "float32" || n == "fp32" || n == "f32") return at::kFloat;
  if (n == "bfloat16" || n == "bf16") return at::kBFloat16;
  if (n == "float16" || n == "fp16" || n == "f16") return at::kHalf;
  fail(where, "unknown dtype '{}' (float32, bfloat16, float16)", n);
}

at::ScalarType parse_compute_dtype(const std::string& n, c10::Device device, const std::string& where) {
  const at::ScalarType t = parse_dtype(n, where);
  if (t == at::kHalf && !device.is_cuda())
    fail(where, "float16 runs on CUDA only; on the CPU use float32 or bfloat16");
  return t;
}

std::string dtype_name(at::ScalarType t) {
  if (t == at::kBFloat16) return "bfloat16";
  if (t == at::kHalf) return "float16";
  return "float32";
}

namespace {
// A "Key:   123 kB" line of a /proc file (meminfo, self/status); 0 when absent.
int64_t proc_kb(const char* file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  return 0;
}
int64_t meminfo_kb(const std::string& key) { return proc_kb("/proc/meminfo", key); }
}  // namespace

c10::Device parse_device(const std::string& name, const std::string& flag) {
  if (name == "auto" || name.empty()) return cuda_available() ? c10::Device(c10::kCUDA) : c10::Device(c10::kCPU);
  if (name != "cpu" && name.rfind("cuda", 0) != 0) fail(flag, "'{}' is not cpu, cuda, cuda:N or auto", name);
  if (name != "cpu" && !cuda_available()) fail(flag, "{}: this build or machine has no CUDA", name);
  try {
    return c10::Device(name);
  } catch (const std::exception&) {
    fail(flag, "'{}' is not cpu, cuda, cuda:N or auto", name);
  }
}

bool cuda_available() {
#ifdef HYB_WITH_CUDA
  return torch::cuda::is_available();
#else
  return false;
#endif
}

void synchronize(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? 0 : d.index());
#endif
}

int64_t free_memory_bytes(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda()) {
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    // Memory the caching allocator holds but does not use is free for us too.
    auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index() < 0 ? 0 : d.index());
    return static_cast<int64_t>(free) + st.reserved_bytes[0].current - st.allocated_bytes[0].current;
  }
#endif
  return meminfo_kb("MemAvailable") * 1024;
}

int64_t total_memory_bytes(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda()) {
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    return static_cast<int64_t>(total);
  }
#endif
  return meminfo_kb("MemTotal") * 1024;
}

bool reset_peak_memory(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(d.index() < 0 ? 0 : d.index());
    return true;
  }
#endif
  // Linux: "5" resets the process's resident high-water mark (VmHWM) to its current RSS.
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return clear.good() && proc_kb("/proc/self/status", "VmHWM") > 0;
}

int64_t peak_memory_bytes(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda())
    return c10::cuda::CUDACachingAllocator::getDeviceStats(d.index() < 0 ? 0 : d.index()).allocated_bytes[0].peak;
#endif
  if (const int64_t hwm = proc_kb("/proc/self/status", "VmHWM"); hwm > 0) return hwm * 1024;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

std::string device_name(c10::Device d) {
#ifdef HYB_WITH_CUDA
  if (d.is_cuda()) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, d.has_index() ? d.index() : 0) == cudaSuccess) return p.name;
  }
#endif
  return d.str();
}

double datasheet_bf16_tflops(c10::Device d) {
  const std::string name = device_name(d);
  if (name.find("H100") != std::string::npos || name.find("H200") != std::string::npos) return 989.0;
  return 0.0;
}

double measured_bandwidth_bytes_per_s(c10::Device d) {
  const std::string name = device_name(d);
  if (name.find("H200") != std::string::npos) return 4.3e12;
  if (name.find("H100") != std::string::npos) return 3.0e12;
  return 0.0;
}

}  // namespace hyb
