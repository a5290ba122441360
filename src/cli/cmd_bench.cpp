// hybridize bench: prefill / decode throughput, memory and cache size of full and hybrid models
// across contexts, with the memory-bandwidth bound beside each decode speed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "bench/throughput.h"
#include "cli/commands.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "search/search.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"
#include "util/plot.h"
#include "util/threads.h"

namespace hyb::cli {

namespace {

struct BenchArgs {
  std::string model, config, mixer = "jet", out, plot, device = "cpu", dtype, batch = "max";
  std::vector<std::string> hybrids, from;
  std::vector<int64_t> contexts = {512, 2048, 16384, 65536}, counts;
  int64_t new_tokens = 128, prefill_chunk = 2048;
  double bandwidth = 0;
  bool no_graph = false;
  int threads = 0;
};

struct Variant {
  std::string name;
  std::unique_ptr<CausalLM> model;
};

std::unique_ptr<CausalLM> base_model(const BenchArgs& a, at::Device dev, at::ScalarType dtype) {
  std::unique_ptr<CausalLM> m;
  if (!a.config.empty()) {
    // Shape-true random weights straight from a config.json (speed does not depend on values).
    m = CausalLM::random(ModelConfig::load(a.config), 0, dtype, dev);
  } else {
    LoadOptions opt;
    opt.device = dev;
    opt.dtype = dtype;
    m = CausalLM::load(a.model, opt);
  }
  return m;
}

// The paper's Fig. 2: decode throughput against the number of linear layers, one line per context
// (log scale: contexts differ by orders of magnitude). Hybrid directories sit at their linear count.
void write_bench_plot(const std::string& path, const std::vector<ThroughputRow>& rows) {
  std::map<int64_t, PlotSeries> by_context;
  for (const auto& r : rows) {
    auto& s = by_context[r.context];
    s.name = fmt::format("context {}", r.context);
    s.x.push_back(static_cast<double>(r.num_linear));
    s.y.push_back(r.decode_tok_s);
  }
  std::vector<PlotSeries> series;
  for (auto& [ctx, s] : by_context) series.push_back(std::move(s));
  PlotOptions o;
  o.title = "Decode throughput";
  o.x_label = "linear-attention layers";
  o.y_label = "decode tokens/s";
  o.log_y = true;
  write_svg_line_plot(path, series, o);
}

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

// --from: rows of earlier runs (their --out files), e.g. to plot runs made in several calls.
std::vector<ThroughputRow> read_rows(const std::vector<std::string>& files) {
  std::vector<ThroughputRow> rows;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) fail(f, "cannot open (--from)");
    try {
      for (const auto& j : nlohmann::json::parse(in)) rows.push_back(ThroughputRow::from_json(j));
    } catch (const nlohmann::json::exception& e) {
      fail(f, "not a `hybridize bench --out` file: {}", e.what());
    }
  }
  return rows;
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Prefill/decode throughput and memory of full and hybrid models");
  auto a = std::make_shared<BenchArgs>();
  auto* m = cmd->add_option("--model", a->model, "Model directory (full or hybrid)");
  cmd->add_option("--config", a->config, "config.json: benchmark random weights of this shape")->excludes(m);
  cmd->add_option("--mixer", a->mixer, "gla | gdn | jet: fresh modules for --replace-counts");
  cmd->add_option("--replace-counts", a->counts, "Numbers of layers to replace (evenly interleaved)")->delimiter(',');
  cmd->add_option("--hybrid", a->hybrids, "Hybrid model directories to compare");
  cmd->add_option("--context", a->contexts, "Context lengths")->delimiter(',');
  cmd->add_option("--batch", a->batch, "Batch size, or max (largest that fits)");
  cmd->add_option("--new-tokens", a->new_tokens, "Greedy tokens decoded per sequence")->check(CLI::PositiveNumber);
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "Prefill chunk length");
  cmd->add_option("--device", a->device, "cpu or cuda");
  cmd->add_option("--dtype", a->dtype, "bfloat16 (default on CUDA) or float32");
  cmd->add_option("--bandwidth", a->bandwidth, "Memory bandwidth for the bound, bytes/s (default 4.3e12 on CUDA, 2e10 on CPU)");
  cmd->add_flag("--no-graph", a->no_graph, "Decode without CUDA graphs");
  add_kernels_option(cmd);
  cmd->add_option("--out", a->out, "Write the rows as JSON (rewritten after every row)");
  cmd->add_option("--plot", a->plot, "SVG of decode tokens/s against linear layers per context (default: --out with .svg)");
  cmd->add_option("--threads", a->threads, "CPU threads");
  cmd->add_option("--from", a->from, "Measure nothing: print and plot the rows of earlier --out files");
  cmd->callback([a] {
    torch::NoGradGuard ng;
    if (!a->from.empty()) {
      const auto rows = read_rows(a->from);
      print_header();
      for (const auto& r : rows) print_row(r);
      if (!a->plot.empty()) write_bench_plot(a->plot, rows);
      return;
    }
    if (a->model.empty() && a->config.empty()) fail("--model", "give --model DIR or --config CONFIG.json");
    const at::Device dev = parse_device(a->device);
    const at::ScalarType dtype = a->dtype.empty() ? (dev.is_cuda() ? at::kBFloat16 : at::kFloat)
                                                  : parse_dtype(a->dtype, "--dtype");
    ThroughputOptions opt;
    opt.new_tokens = a->new_tokens;
    opt.prefill_chunk = a->prefill_chunk;
    opt.cuda_graph = !a->no_graph;
    opt.bandwidth = a->bandwidth > 0 ? a->bandwidth : (dev.is_cuda() ? 4.3e12 : 2e10);
    if (a->batch != "max") opt.batch = std::stoll(a->batch);

    // The configurations: the base (and fresh hybrids of it), then any hybrid directories.
    std::vector<std::pair<std::string, std::function<std::unique_ptr<CausalLM>()>>> variants;
    if (a->counts.empty()) a->counts = {0};
    for (int64_t k : a->counts) {
      variants.emplace_back(k == 0 ? "full" : fmt::format("{}x{}", a->mixer, k), [a, k, dev, dtype] {
        auto m = base_model(*a, dev, dtype);
        if (k > m->num_layers()) fail("--replace-counts", "{} exceeds the {} layers", k, m->num_layers());
        auto s = LinearSettings::for_model(a->mixer, m->config());
        for (int64_t l : uniform_placement(m->num_layers(), k)) {
          auto mixer = make_linear_mixer(s, 1000 + l);
          mixer->to(dev, dtype);
          m->set_mixer(l, std::move(mixer), s.to_json());  // the attention weights are freed
        }
        return m;
      });
    }
    for (const auto& h : a->hybrids)
      variants.emplace_back(h, [h, dev, dtype] {
        LoadOptions o;
        o.device = dev;
        o.dtype = dtype;
        return CausalLM::load(h, o);
      });

    std::string plot = a->plot;
    if (plot.empty() && !a->out.empty()) plot = std::filesystem::path(a->out).replace_extension(".svg").string();
    std::vector<ThroughputRow> rows;
    std::map<int64_t, double> full_speed;
    print_header();
    for (auto& [name, make] : variants) {
      auto model = make();
      configure_threads(a->threads, model->config().hidden_size);
      for (int64_t ctx : a->contexts) {
        opt.context = ctx;
        auto r = measure_throughput(*model, name, opt);
        if (r.num_linear == 0 && !full_speed.count(ctx)) full_speed[ctx] = r.decode_tok_s;
        if (full_speed.count(ctx)) r.speedup = r.decode_tok_s / full_speed[ctx];
        print_row(r);
        rows.push_back(r);
        // Written after every row, so that a run stopped by a time limit keeps what it measured.
        if (!a->out.empty()) {
          nlohmann::json j = nlohmann::json::array();
          for (const auto& row : rows) j.push_back(row.to_json());
          write_file_atomic(a->out, j.dump(2) + "\n");
        }
        if (!plot.empty()) write_bench_plot(plot, rows);
      }
    }
  });
}

}  // namespace hyb::cli
