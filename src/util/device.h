// Device helpers that differ between CPU and CUDA builds, behind plain functions so that no
// caller needs CUDA headers or #ifdefs: synchronisation, free memory, peak memory; and the
// --device / --dtype values.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>

namespace hyb {

bool cuda_available();
// A --dtype (or config.json dtype) value: "float32"/"fp32"/"f32", "bfloat16"/"bf16",
// "float16"/"fp16"/"f16"; throws hyb::Error naming `where` for anything else.
at::ScalarType parse_dtype(const std::string& name, const std::string& where);
std::string dtype_name(at::ScalarType t);  // "float32" | "bfloat16" | "float16"
// parse_dtype for a model that computes on `device`: float16 is refused on the CPU, whose LibTorch
// kernels lack it (matrix products failed with "addmm_impl_cpu_ not implemented for 'Half'").
at::ScalarType parse_compute_dtype(const std::string& name, c10::Device device, const std::string& where);
// A --device value: "cpu", "cuda", "cuda:N", or "auto" / "" (CUDA when this build and machine
// have it, else CPU). Throws hyb::Error naming `flag` for anything else or CUDA without a GPU.
c10::Device parse_device(const std::string& name, const std::string& flag = "--device");
void synchronize(c10::Device d);            // wait for queued work (no-op on CPU)
int64_t free_memory_bytes(c10::Device d);   // CUDA: cudaMemGetInfo free; CPU: MemAvailable
int64_t total_memory_bytes(c10::Device d);
// The peak below starts again from here: on CUDA the caching allocator's allocated bytes; on the
// CPU the process's resident high-water mark (Linux /proc/self/clear_refs). False where it cannot
// be reset (the CPU peak is then the process's since it started).
bool reset_peak_memory(c10::Device d);
int64_t peak_memory_bytes(c10::Device d);   // CUDA: caching allocator peak; CPU: peak resident memory (VmHWM)
std::string device_name(c10::Device d);     // CUDA: the GPU's name; CPU: "cpu"
// Dense bf16 tensor-core peak of the GPU by its datasheet (TFLOP/s), 0 when unknown (CPU, other
// GPUs): H100 / H200 SXM 989. The denominator of the MFU that distill.json records.
double datasheet_bf16_tflops(c10::Device d);
// Memory bandwidth a device-to-device copy reached on the GPUs measured here (bytes/s, read plus
// written): H200 4.3e12, H100 3.0e12 (the datasheets say 4.8e12 and 3.35e12); 0 when unknown. The
// denominator of bench's decoding bound.
double measured_bandwidth_bytes_per_s(c10::Device d);

}  // namespace hyb
