// Model load time: mmap + validation + (where dtypes differ) conversion.
// Usage: bench_load DIR [DIR...]   Loads each directory in its stored dtype (zero-copy: no tensor
// is copied when the dtype matches) and in fp32, and prints the wall time of each.
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>

#include "model/model.h"
#include "util/device.h"

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  for (int i = 1; i < argc; ++i) {
    const std::string dir = argv[i];
    auto cfg = hyb::ModelConfig::load(dir);
    for (auto dtype : {hyb::parse_dtype(cfg.dtype, "config"), at::kFloat}) {
      auto t0 = clock::now();
      hyb::LoadOptions opt;
      opt.dtype = dtype;
      auto m = hyb::CausalLM::load(dir, opt);
      const double s = std::chrono::duration<double>(clock::now() - t0).count();
      // Count tensors that still point into the file mapping (not copied).
      int64_t bytes = 0;
      for (auto& [name, t] : m->parameters()) bytes += t->numel() * t->element_size();
      fmt::print("{:<50} stored {:<9} loaded as {:<9} {:8.3f} s  ({:.1f} MiB of weights, {:.2f} GB/s)\n", dir,
                 cfg.dtype, hyb::dtype_name(dtype), s, bytes / 1048576.0, bytes / s / 1e9);
    }
  }
}
