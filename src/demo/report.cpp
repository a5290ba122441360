#include "demo/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "io/safetensors.h"
#include "util/files.h"

namespace hyb::demo {

using nlohmann::json;

namespace {

// "0-3" for a run, "0,2" otherwise, "-" for none.
std::string layers_str(const json& layers) {
  if (layers.empty()) return "-";
  std::vector<int64_t> v = layers.get<std::vector<int64_t>>();
  bool run = v.size() > 2;
  for (size_t i = 1; i < v.size(); ++i) run = run && v[i] == v[i - 1] + 1;
  if (run) return fmt::format("{}-{}", v.front(), v.back());
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string per_layer(const json& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.3f}", i ? " " : "", v[i].get<double>());
  return s;
}

std::string context_str(int64_t c) {
  return c >= 1024 && c % 1024 == 0 ? fmt::format("{}K", c / 1024) : std::to_string(c);
}

}  // namespace

std::string format_report(const json& r) {
  std::string s;
  const json& sec = r["seconds"];
  const json& t = r["teacher"];
  const json& d = r["distill"];
  s += fmt::format("hybridize demo: Distill-then-Replace on a synthetic world (seed {}{}, {:.0f} s, {} thread{})\n\n",
                   r["seed"].get<uint64_t>(), r["quick"].get<bool>() ? ", quick" : "", sec["total"].get<double>(),
                   r["threads"].get<int>(), r["threads"].get<int>() == 1 ? "" : "s");
  s += fmt::format("world    rows of {} words, vocabulary {}; {} tasks (4 choices each, chance 0.25):\n",
                   r["world"]["seq_len"].get<int64_t>(), r["world"]["vocab_size"].get<int64_t>(),
                   r["world"]["tasks"].size());
  for (const auto& w : r["world"]["tasks"]) {
    const json& ex = w["examples"][0];
    std::string ctx = ex["context"].get<std::string>();
    if (ctx.size() > 60) ctx = "... " + ctx.substr(ctx.size() - 56);
    s += fmt::format("  {:<7} {}\n          e.g. \"{}\" -> {}\n", w["name"].get<std::string>(),
                     w["ability"].get<std::string>(), ctx, ex["answer"].get<std::string>());
  }
  s += fmt::format(
      "\nteacher  Llama, {} layers, hidden {}, {} heads ({} kv), {:.2f}M parameters, trained here on rows\n"
      "         of {}: recall only for {} steps (until dev recall {:.2f}), then the mixture for {}; loss\n"
      "         {:.2f} -> {:.2f} ({:.0f} s)\n",
      t["layers"].get<int64_t>(), t["hidden_size"].get<int64_t>(), t["heads"].get<int64_t>(),
      t["kv_heads"].get<int64_t>(), t["parameters"].get<int64_t>() / 1e6, t["batch"].get<int64_t>(),
      t["recall_steps"].get<int64_t>(), t["recall_dev_accuracy"].get<double>(),
      t["steps"].get<int64_t>() - t["recall_steps"].get<int64_t>(), t["loss_start"].get<double>(),
      t["loss_end"].get<double>(), sec["pretrain"].get<double>());
  s += fmt::format(
      "phase 1  {} module distilled for every layer, {} steps ({:.0f} s)\n"
      "         held-out relative MSE per layer: {}  (at init: {})\n",
      d["kind"].get<std::string>(), d["steps"].get<int64_t>(), sec["distill"].get<double>(),
      per_layer(d["relative_mse_end"]), per_layer(d["relative_mse_start"]));
  s += fmt::format("phase 2  greedy replacement per task, P_min = 95% of the base score ({:.0f} s)\n\n",
                   sec["search"].get<double>());
  s += fmt::format("  {:<7} {:>5}  {:<16} {:<16} {:<11} {:>10} {:>9}\n", "task", "base", "M_best", "M_opt", "attention",
                   "all linear", "exported");
  s += fmt::format("  {:<7} {:>5}  {:<16} {:<16} {:<11} {:>10} {:>9}\n", "", "", "(linear: score)", "(linear: score)",
                   "kept", "", "M_opt");
  for (const auto& k : r["tasks"]) {
    auto m = [](const json& e) {
      return fmt::format("{:<6} {:.3f}", e["layers"].empty() ? "none" : layers_str(e["layers"]),
                         e["score"].get<double>());
    };
    s += fmt::format("  {:<7} {:>5.3f}  {:<16} {:<16} {:<11} {:>10.3f} {:>9.3f}\n", k["name"].get<std::string>(),
                     k["base"].get<double>(), m(k["best"]), m(k["opt"]),
                     k["full_attention_kept"].empty() ? "none" : layers_str(k["full_attention_kept"]),
                     k["all_linear"].get<double>(), k["hybrid_score"].get<double>());
  }
  const int64_t L = t["layers"].get<int64_t>();
  s += "\n  placement (M_opt): A = full attention kept, L = linear\n  layer   ";
  for (int64_t l = 0; l < L; ++l) s += fmt::format(" {}", l);
  s += "\n";
  for (const auto& k : r["tasks"]) {
    s += fmt::format("  {:<7} ", k["name"].get<std::string>());
    const auto kept = k["full_attention_kept"].get<std::vector<int64_t>>();
    for (int64_t l = 0; l < L; ++l) s += std::find(kept.begin(), kept.end(), l) != kept.end() ? " A" : " L";
    s += "\n";
  }

  const json& dec = r["decode"];
  s += fmt::format("\nphase 3  decoding tokens/s, batch {}, {} steps on a cache filled to the context ({:.0f} s)\n",
                   dec["batch"].get<int64_t>(), dec["steps"].get<int64_t>(), sec["decode"].get<double>());
  s += fmt::format("  {:<15}", "model");
  for (const auto& c : dec["contexts"]) s += fmt::format(" {:>15}", context_str(c.get<int64_t>()));
  s += "\n";
  const json& teacher = dec["models"][0];
  for (const auto& m : dec["models"]) {
    s += fmt::format("  {:<15}", m["name"].get<std::string>());
    for (size_t i = 0; i < m["tokens_per_s"].size(); ++i) {
      const double tps = m["tokens_per_s"][i].get<double>(), base = teacher["tokens_per_s"][i].get<double>();
      s += m["linear_layers"].empty() ? fmt::format(" {:>15.0f}", tps)
                                      : fmt::format(" {:>8.0f} ({:.1f}x)", tps, tps / base);
    }
    s += fmt::format("   cache {:.1f} MB\n", m["cache_bytes"].back().get<int64_t>() / 1e6);
  }
  s += "\nfiles    teacher/  corpus/  distill/  search/  hybrids/<task>/  tasks/  report.json";
  for (const auto& p : r["plots"]) s += "  " + p.get<std::string>();
  s += "\n";
  return s;
}

// ---------------------------------------------------------------------------------------------
// SVG

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<bool> hollow;  // per point: drawn as an open circle (e.g. a rejected candidate)
};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

// A line plot with a legend; x on a log2 axis when log_x. Ticks: the given x ticks, and y in
// `y_step` steps over [y_lo, y_hi].
std::string line_plot(const std::string& title, const std::string& xl, const std::string& yl,
                      const std::vector<Series>& series, bool log_x, const std::vector<double>& x_ticks,
                      const std::vector<std::string>& x_labels, double y_lo, double y_hi, double y_step) {
  const double W = 700, H = 400, left = 70, right = 220, top = 40, bottom = 55;
  auto fx = [&](double x) { return log_x ? std::log2(x) : x; };
  double x_lo = fx(x_ticks.front()), x_hi = fx(x_ticks.back());
  if (x_hi == x_lo) x_hi = x_lo + 1;
  auto px = [&](double x) { return left + (fx(x) - x_lo) / (x_hi - x_lo) * (W - left - right); };
  auto py = [&](double y) { return H - bottom - (y - y_lo) / (y_hi - y_lo) * (H - top - bottom); };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
      W, H, (W - right + left) / 2, esc(title));
  for (double y = y_lo; y <= y_hi + 1e-9; y += y_step)
    s += fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        left, W - right, py(y), py(y), left - 6, py(y) + 4, fmt::format("{:g}", y));
  for (size_t i = 0; i < x_ticks.size(); ++i)
    s += fmt::format(
        "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        px(x_ticks[i]), px(x_ticks[i]), top, H - bottom, px(x_ticks[i]), H - bottom + 18, esc(x_labels[i]));
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                   W - left - right, H - top - bottom);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (W - right + left) / 2, H - 14,
                   esc(xl));
  s += fmt::format("<text transform=\"translate(18,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   (H - bottom + top) / 2, esc(yl));
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& se = series[k];
    const char* c = kColors[k % 7];
    std::string pts;
    for (size_t i = 0; i < se.x.size(); ++i) pts += fmt::format("{:.1f},{:.1f} ", px(se.x[i]), py(se.y[i]));
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", c, pts);
    for (size_t i = 0; i < se.x.size(); ++i) {
      const bool hollow = i < se.hollow.size() && se.hollow[i];
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                       px(se.x[i]), py(se.y[i]), hollow ? "white" : c, c);
    }
    s += fmt::format(
        "<line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>"
        "<text x=\"{}\" y=\"{}\">{}</text>\n",
        W - right + 12, W - right + 32, top + 10 + 20 * k, top + 10 + 20 * k, c, W - right + 38, top + 14 + 20 * k,
        esc(se.name));
  }
  return s + "</svg>\n";
}

std::string placement_plot(const json& r) {
  const int64_t L = r["teacher"]["layers"].get<int64_t>();
  const double cell = 56, left = 90, top = 50;
  const size_t n = r["tasks"].size();
  const double W = std::max(left + cell * L + 220, 560.0), H = top + cell * n + 50;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"13\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"24\" font-size=\"15\">Layers each task keeps as full attention (M_opt)</text>\n",
      W, H, 20);
  for (int64_t l = 0; l < L; ++l)
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">layer {}</text>\n", left + cell * l + cell / 2,
                     top - 6, l);
  for (size_t k = 0; k < n; ++k) {
    const json& t = r["tasks"][k];
    const auto kept = t["full_attention_kept"].get<std::vector<int64_t>>();
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 10,
                     top + cell * k + cell / 2 + 5, esc(t["name"].get<std::string>()));
    for (int64_t l = 0; l < L; ++l) {
      const bool attn = std::find(kept.begin(), kept.end(), l) != kept.end();
      s += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"white\" stroke-width=\"3\"/>"
          "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"white\" font-weight=\"bold\">{}</text>\n",
          left + cell * l, top + cell * k, cell, cell, attn ? "#d62728" : "#1f77b4", left + cell * l + cell / 2,
          top + cell * k + cell / 2 + 5, attn ? "A" : "L");
    }
    s += fmt::format("<text x=\"{}\" y=\"{}\">score {:.2f} (base {:.2f})</text>\n", left + cell * L + 12,
                     top + cell * k + cell / 2 + 5, t["opt"]["score"].get<double>(), t["base"].get<double>());
  }
  s += fmt::format(
      "<text x=\"{}\" y=\"{}\" fill=\"#d62728\">A: full attention</text>"
      "<text x=\"{}\" y=\"{}\" fill=\"#1f77b4\">L: Gated DeltaNet (distilled)</text>\n",
      left, H - 16, left + 140, H - 16);
  return s + "</svg>\n";
}

}  // namespace

json write_plots(const json& r, const std::filesystem::path& dir) {
  const int64_t L = r["teacher"]["layers"].get<int64_t>();
  // Score against linear layers, along each task's greedy path (hollow: the candidate that fell
  // below P_min and stopped the search).
  std::vector<Series> search;
  for (const auto& t : r["tasks"]) {
    Series se{t["name"].get<std::string>(), {}, {}, {}};
    for (const auto& p : t["trajectory"]) {
      se.x.push_back(p["linear"].get<double>());
      se.y.push_back(p["score"].get<double>());
      se.hollow.push_back(!p["accepted"].get<bool>());
    }
    search.push_back(se);
  }
  std::vector<double> xt;
  std::vector<std::string> xl;
  for (int64_t k = 0; k <= L; ++k) xt.push_back(static_cast<double>(k)), xl.push_back(std::to_string(k));
  write_file_atomic(dir / "search.svg",
                    line_plot("Greedy replacement: task score vs linear layers", "layers replaced by Gated DeltaNet",
                              "accuracy", search, false, xt, xl, 0, 1, 0.25));

  write_file_atomic(dir / "placement.svg", placement_plot(r));

  // Decoding throughput against context (log2 x).
  const json& dec = r["decode"];
  std::vector<Series> speed;
  double y_hi = 0;
  std::vector<double> ctx = dec["contexts"].get<std::vector<double>>();
  for (const auto& m : dec["models"]) {
    Series se{m["name"].get<std::string>() + " (" +
                  std::to_string(L - static_cast<int64_t>(m["linear_layers"].size())) + " attention)",
              ctx,
              m["tokens_per_s"].get<std::vector<double>>(),
              {}};
    for (double y : se.y) y_hi = std::max(y_hi, y);
    speed.push_back(se);
  }
  // y axis: ticks 1, 2 or 5 times a power of ten apart, about five of them, up to the fastest.
  const double raw = std::max(y_hi, 1.0) / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double f : {1.0, 2.0, 5.0})
    if (f * mag >= raw) {
      step = f * mag;
      break;
    }
  const double top = std::ceil(y_hi / step) * step;
  std::vector<std::string> cl;
  for (double c : ctx) cl.push_back(context_str(static_cast<int64_t>(c)));
  write_file_atomic(dir / "decode.svg",
                    line_plot(fmt::format("Decoding throughput (batch {})", dec["batch"].get<int64_t>()),
                              "context length (tokens)", "tokens / s", speed, true, ctx, cl, 0, top, step));
  return json::array({"search.svg", "placement.svg", "decode.svg"});
}

}  // namespace hyb::demo
