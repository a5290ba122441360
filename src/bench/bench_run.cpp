#include "bench/bench_run.h"

#include <fmt/format.h>

#include <fstream>
#include <map>

#include "io/config.h"
#include "linear/linear.h"
#include "model/model.h"
#include "search/search.h"
#include "util/error.h"
#include "util/json.h"
#include "util/files.h"
#include "util/plot.h"
#include "util/progress.h"
#include "util/threads.h"

namespace hyb {

namespace {

std::unique_ptr<CausalLM> base_model(const BenchModels& a) {
  if (!a.config.empty())  // shape-true random weights straight from a config.json
    return CausalLM::random(ModelConfig::load(a.config), 0, a.dtype, a.device);
  LoadOptions opt;
  opt.device = a.device;
  opt.dtype = a.dtype;
  return CausalLM::load(a.model_dir, opt);
}

}  // namespace

std::vector<BenchVariant> bench_variants(const BenchModels& a) {
  // The configurations: the base (and fresh hybrids of it), then any hybrid directories.
  std::vector<BenchVariant> variants;
  for (int64_t k : a.counts.empty() ? std::vector<int64_t>{0} : a.counts) {
    variants.push_back({k == 0 ? "full" : fmt::format("{}x{}", a.mixer, k), [a, k] {
      auto m = base_model(a);
      if (k > m->num_layers()) fail("--replace-counts", "{} exceeds the {} layers", k, m->num_layers());
      auto s = LinearSettings::for_model(a.mixer, m->config());
      for (int64_t l : uniform_placement(m->num_layers(), k)) {
        auto mixer = make_linear_mixer(s, 1000 + l);
        mixer->to(a.device, a.dtype);
        m->set_mixer(l, std::move(mixer), s.to_json());  // the attention weights are freed
      }
      return m;
    }});
  }
  for (const auto& h : a.hybrids)
    variants.push_back({h, [h, a] {
      LoadOptions o;
      o.device = a.device;
      o.dtype = a.dtype;
      return CausalLM::load(h, o);
    }});
  return variants;
}

std::vector<ThroughputRow> run_bench(const std::vector<BenchVariant>& variants, const BenchRunOptions& o,
                                     const std::function<void(const ThroughputRow&)>& on_row) {
  ThroughputOptions opt = o.throughput;
  std::vector<ThroughputRow> rows;
  std::map<int64_t, double> full_speed;
  Progress bar("bench", static_cast<int64_t>(variants.size() * o.contexts.size()), "rows",
               o.progress ? Progress::Mode::kAuto : Progress::Mode::kSilent);
  for (const auto& [name, make] : variants) {
    bar.update(bar.done(), "loading " + name);
    auto model = make();
    configure_threads(o.threads, model->config().hidden_size);
    for (int64_t ctx : o.contexts) {
      bar.update(bar.done(), fmt::format("{}, context {}", name, ctx));
      opt.context = ctx;
      auto r = measure_throughput(*model, name, opt);
      if (r.num_linear == 0 && !full_speed.count(ctx)) full_speed[ctx] = r.decode_tok_s;
      if (full_speed.count(ctx)) r.speedup = r.decode_tok_s / full_speed[ctx];
      bar.clear();  // the row's line replaces it
      if (on_row) on_row(r);
      bar.add(1);
      rows.push_back(r);
      // Written after every row, so that a run stopped by a time limit keeps what it measured.
      if (!o.out.empty()) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& row : rows) j.push_back(row.to_json());
        write_file_atomic(o.out, j.dump(2) + "\n");
      }
      if (!o.plot.empty()) write_bench_plot(o.plot, rows);
    }
  }
  return rows;
}

// Log scale: contexts differ by orders of magnitude. Hybrid directories sit at their linear count.
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

std::vector<ThroughputRow> read_bench_rows(const std::vector<std::string>& files) {
  std::vector<ThroughputRow> rows;
  for (const auto& f : files) {
    const nlohmann::json file = read_json_file(f);
    try {
      for (const auto& j : file) rows.push_back(ThroughputRow::from_json(j));
    } catch (const nlohmann::json::exception& e) {
      fail(f, "not a `hybridize bench --out` file: {}", e.what());
    }
  }
  return rows;
}

}  // namespace hyb
