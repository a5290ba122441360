// Device helpers that differ between CPU and CUDA builds, behind plain functions so that no
// caller needs CUDA headers or #ifdefs: synchronisation, free memory, peak memory.
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

namespace hyb {

bool cuda_available();
// A --device value: "cpu", "cuda", "cuda:N", or "auto" / "" (CUDA when this build and machine
// have it, else CPU). Throws hyb::Error naming `flag` for anything else or CUDA without a GPU.
c10::Device parse_device(const std::string& name, const std::string& flag = "--device");
void synchronize(c10::Device d);            // wait for queued work (no-op on CPU)
int64_t free_memory_bytes(c10::Device d);   // CUDA: cudaMemGetInfo free; CPU: MemAvailable
int64_t total_memory_bytes(c10::Device d);
void reset_peak_memory(c10::Device d);
int64_t peak_memory_bytes(c10::Device d);   // CUDA: caching allocator peak; CPU: max RSS

}  // namespace hyb
