// bench/throughput: prefill and decode throughput of full and hybrid models across contexts,
// following Jet-Nemotron's protocol (bf16, batch as large as memory allows, chunked prefill,
// greedy new tokens, prefill and decode timed separately, a warm-up discarded), with the
// memory-bandwidth bound of each decoding step beside the measured speed.
#pragma once
#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hyb {

class CausalLM;

struct ThroughputOptions {
  int64_t context = 2048;
  int64_t batch = 0;  // 0 = the largest that fits (--batch-size max)
  int64_t new_tokens = 128;
  int64_t prefill_chunk = 0;  // 0: CausalLM::default_prefill_chunk (whole context on CUDA, 2048 on CPU)
  int64_t max_batch = 256;
  double bandwidth = 4.3e12;  // bytes/s for the bound (default_bandwidth)
  bool cuda_graph = true;
};

struct ThroughputRow {
  std::string config;
  int64_t num_linear = 0, context = 0, batch = 0;
  double prefill_tok_s = 0, decode_tok_s = 0;
  int64_t peak_bytes = 0, kv_bytes = 0, state_bytes = 0, weight_bytes = 0;
  double bound_tok_s = 0;  // batch / (bytes read per step / bandwidth)
  double bandwidth = 0;    // the bandwidth of that bound, bytes/s
  double speedup = 1.0;    // decode tok/s over the full-attention model at this context
  bool cuda_graph = false;  // the timed decoding steps replayed as one CUDA graph
  // What peak_bytes measures (peak_memory_note says it in words): "gpu_allocated" (the caching
  // allocator's peak during this row's timed run), "resident" (the process's peak resident memory
  // during it: weights included, and memory the allocator kept from earlier rows), or
  // "resident_so_far" (the process's peak since it started, where it cannot be reset).
  std::string peak_scope;
  nlohmann::json to_json() const;
  static ThroughputRow from_json(const nlohmann::json& j);  // throws nlohmann's errors on a missing field
};

// One line saying what the rows' "peak GiB" is (their peak_scope), "" for rows that do not say.
std::string peak_memory_note(const std::vector<ThroughputRow>& rows);

// Largest batch whose weights + cache + prefill working set fit in the device's free memory.
int64_t max_batch_that_fits(CausalLM& model, const ThroughputOptions& opt);

// The bandwidth of the decoding bound when none is given: the device-to-device copy bandwidth
// measured on this GPU kind (util/device: H200, H100), 4.3e12 for other GPUs (with a note on
// stderr), 2e10 on the CPU.
double default_bandwidth(at::Device device);
ThroughputRow measure_throughput(CausalLM& model, const std::string& config, const ThroughputOptions& opt);

}  // namespace hyb
