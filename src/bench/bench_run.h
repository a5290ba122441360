// bench/bench_run: `hybridize bench` as library calls. The models it compares, each built only
// when its turn comes: the base (a model directory, or random weights of a config.json's shape,
// speed not depending on values), the base with k layers swapped for fresh linear modules (evenly
// interleaved: uniform_placement), and hybrid directories; every one measured at every context,
// with the speed-up over the full model, the rows written (JSON) and plotted after each.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/throughput.h"

namespace hyb {

class CausalLM;

struct BenchVariant {
  std::string name;  // "full", "<mixer>x<k>", or the hybrid's directory
  std::function<std::unique_ptr<CausalLM>()> make;
};

struct BenchModels {
  std::string model_dir, config;  // one of the two
  std::string mixer = "jet";      // fresh modules for `counts`
  std::vector<int64_t> counts;    // layers to replace (0 = the base itself); empty = {0}
  std::vector<std::string> hybrids;
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;
};
std::vector<BenchVariant> bench_variants(const BenchModels& m);

struct BenchRunOptions {
  std::vector<int64_t> contexts;
  ThroughputOptions throughput;  // its context is set per row
  int threads = 0;               // CPU threads (0: by model size, util/threads)
  std::string out, plot;         // JSON rows and SVG plot, rewritten after every row ("" = none)
  bool progress = true;          // a bar with ETA over the rows on stderr (erased while a row prints)
};
// Measures every variant at every context; `on_row` sees each row as it is measured.
std::vector<ThroughputRow> run_bench(const std::vector<BenchVariant>& variants, const BenchRunOptions& opt,
                                     const std::function<void(const ThroughputRow&)>& on_row);

// The paper's Fig. 2: decode throughput against the number of linear layers, one line per context.
void write_bench_plot(const std::string& path, const std::vector<ThroughputRow>& rows);
// Rows of earlier runs (their --out files).
std::vector<ThroughputRow> read_bench_rows(const std::vector<std::string>& files);

}  // namespace hyb
