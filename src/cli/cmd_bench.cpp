// hybridize bench: prefill / decode throughput, memory and cache size of full and hybrid models
// across contexts, with the memory-bandwidth bound beside each decode speed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>

#include "bench/bench_run.h"
#include "cli/checks.h"
#include "cli/commands.h"
#include "linear/kinds.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb::cli {

namespace {

struct BenchArgs {
  BenchModels models;  // --model, --config, --mixer, --replace-counts, --hybrid
  std::string out, plot, device = "auto", dtype, batch = "max";
  std::vector<std::string> from;
  std::vector<int64_t> contexts = {512, 2048, 16384, 65536};
  int64_t new_tokens = 128, prefill_chunk = 0;
  double bandwidth = 0;
  bool no_graph = false, no_progress = false, overwrite = false;
  int threads = 0;
};

void print_header() {
  fmt::print("{:<22} {:>4} {:>7} {:>5} {:>12} {:>12} {:>12} {:>7} {:>9} {:>9} {:>9} {:>7}\n", "config", "lin",
             "context", "batch", "prefill t/s", "decode t/s", "bound t/s", "%bound", "KV MiB", "state MiB", "peak GiB",
             "speedup");
}

void print_row(const ThroughputRow& r) {
  fmt::print("{:<22} {:>4} {:>7} {:>5} {:>12.1f} {:>12.1f} {:>12.1f} {:>6.1f}% {:>9.1f} {:>9.1f} {:>9.2f} {:>6.2f}x\n",
             r.config, r.num_linear, r.context, r.batch, r.prefill_tok_s, r.decode_tok_s, r.bound_tok_s,
             100 * r.decode_tok_s / r.bound_tok_s, r.kv_bytes / 1048576.0, r.state_bytes / 1048576.0,
             r.peak_bytes / 1073741824.0, r.speedup);
  std::fflush(stdout);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Prefill/decode throughput and memory of full and hybrid models");
  auto a = std::make_shared<BenchArgs>();
  auto* m = cmd->add_option("--model", a->models.model_dir, "Model directory (full or hybrid; default: none, give it or --config)");
  cmd->add_option("--config", a->models.config, "config.json: benchmark random weights of this shape (default: none)")->excludes(m);
  cmd->add_option("--mixer", a->models.mixer, mixer_kind_list() + ": fresh modules for --replace-counts");
  cmd->add_option("--replace-counts", a->models.counts, "Numbers of layers to replace (evenly interleaved; default: none, the model as it is)")->delimiter(',');
  cmd->add_option("--hybrid", a->models.hybrids, "Hybrid model directories to compare (default: none)");
  cmd->add_option("--context", a->contexts, "Context lengths")->delimiter(',');
  cmd->add_option("--batch-size", a->batch, "Sequences decoded together, or max (the largest that fits)")
      ->check(CLI::IsMember({"max"}) | number_in(1, 1e9, "a batch size >= 1"));
  cmd->add_option("--max-new-tokens", a->new_tokens, "Greedy tokens decoded per sequence (all of them: bench never stops early)")
      ->check(positive());
  cmd->add_option("--prefill-chunk", a->prefill_chunk,
                  "Prefill chunk length; 0: the whole context on CUDA, 2048 on the CPU")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto (CUDA when available)")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "bfloat16 (default on CUDA) or float32 (default on CPU)");
  cmd->add_option("--bandwidth", a->bandwidth, "Memory bandwidth for the bound, bytes/s (default: measured copy bandwidth of an H200 4.3e12 or H100 3.0e12, "
                  "4.3e12 for other GPUs, 2e10 on CPU)")
      ->check(positive());
  cmd->add_flag("--no-graph", a->no_graph, "Decode without CUDA graphs");
  add_kernels_option(cmd);
  cmd->add_option("--out", a->out, "JSON file of the rows (rewritten after every row; default: none)");
  cmd->add_option("--plot", a->plot, "SVG of decode tokens/s against linear layers per context (default: --out with .svg)");
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing --out or --plot file");
  cmd->add_option("--threads", a->threads, "CPU threads (default: all cores, 1 for models narrower than 256)")
      ->check(thread_count());
  cmd->add_flag("--no-progress", a->no_progress, "No progress bar");
  cmd->add_option("--from", a->from, "Measure nothing: print and plot the rows of earlier --out files (default: none, measure)");
  cmd->callback([a] {
    torch::NoGradGuard ng;
    if (a->plot.empty() && !a->out.empty()) a->plot = std::filesystem::path(a->out).replace_extension(".svg").string();
    std::vector<std::filesystem::path> inputs(a->from.begin(), a->from.end());
    inputs.insert(inputs.end(), {a->models.model_dir, a->models.config});
    require_new_output_files({{"--out", a->out}, {"--plot", a->plot}}, inputs, a->overwrite);  // --out x.svg: the plot's too
    if (!a->from.empty()) {
      const auto rows = read_bench_rows(a->from);
      print_header();
      for (const auto& r : rows) print_row(r);
      if (const std::string note = peak_memory_note(rows); !note.empty()) fmt::print("{}\n", note);
      if (!a->plot.empty()) write_bench_plot(a->plot, rows);
      return;
    }
    if (a->models.model_dir.empty() && a->models.config.empty()) fail("--model", "give --model DIR or --config CONFIG.json");
    const at::Device dev = parse_device(a->device);
    const at::ScalarType dtype = a->dtype.empty() ? (dev.is_cuda() ? at::kBFloat16 : at::kFloat)
                                                  : parse_compute_dtype(a->dtype, dev, "--dtype");
    BenchRunOptions run;
    run.contexts = a->contexts;
    run.threads = a->threads;
    run.throughput.new_tokens = a->new_tokens;
    run.throughput.prefill_chunk = a->prefill_chunk;
    run.throughput.cuda_graph = !a->no_graph;
    run.throughput.bandwidth = a->bandwidth > 0 ? a->bandwidth : default_bandwidth(dev);
    if (a->batch != "max") run.throughput.batch = std::stoll(a->batch);
    run.out = a->out;
    run.progress = !a->no_progress;
    run.plot = a->plot;
    a->models.device = dev;
    a->models.dtype = dtype;
    print_header();
    const auto rows = run_bench(bench_variants(a->models), run, print_row);
    if (const std::string note = peak_memory_note(rows); !note.empty()) fmt::print("{}\n", note);
  });
}

}  // namespace hyb::cli
