#include "util/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/files.h"

namespace hyb {

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  // step = {1,2,5} x 10^e, the smallest such step giving at most ~target intervals. Ticks are
  // computed as k * m / 10^-e (integers divided by a power of ten) so that 0.3 prints as 0.3.
  const double raw = (hi - lo) / std::max(target, 1);
  int e = static_cast<int>(std::floor(std::log10(raw)));
  int m = 10;
  for (int c : {1, 2, 5, 10})
    if (c * std::pow(10.0, e) >= raw * (1 - 1e-12)) {
      m = c;
      break;
    }
  const double scale = std::pow(10.0, std::abs(e));  // exact for |e| <= 22
  auto value = [&](double k) { return e < 0 ? k * m / scale : k * m * scale; };
  const double step = value(1);
  std::vector<double> t;
  for (double k = std::ceil(lo / step - 1e-9); value(k) <= hi + step * 1e-9; k += 1)
    t.push_back(k == 0 ? 0.0 : value(k));
  return t;
}

namespace {

// Distinguishable colours (Tableau 10), reused cyclically with a dash pattern per cycle.
const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
const char* kDashes[] = {"", "6,3", "2,2", "8,3,2,3"};

std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '<') r += "&lt;";
    else if (c == '>') r += "&gt;";
    else if (c == '&') r += "&amp;";
    else if (c == '"') r += "&quot;";
    else r += c;
  }
  return r;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", v);
}

}  // namespace

std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt) {
  const double inf = std::numeric_limits<double>::infinity();
  auto usable = [&](double y) { return std::isfinite(y) && (!opt.log_y || y > 0); };
  // Data range (y in log10 units on a log axis).
  double x0 = inf, x1 = -inf, y0 = inf, y1 = -inf;
  for (const auto& s : series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!usable(s.y[i]) || !std::isfinite(s.x[i])) continue;
      const double y = opt.log_y ? std::log10(s.y[i]) : s.y[i];
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw: empty axes
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;  // log units on a log axis
  y0 -= pad, y1 += pad;

  // Layout: plot area inside margins; legend on the right.
  const double W = opt.width, H = opt.height, left = 70, right = 170, top = 40, bottom = 55;
  const double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H, W, H);
  s += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n", left + pw / 2,
                   esc(opt.title));

  // Grid and ticks.
  for (double t : nice_ticks(x0, x1)) {
    if (t < x0 || t > x1) continue;
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e5e5e5\"/>\n", px(t),
                     top, top + ph);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", px(t), top + ph + 16,
                     tick_label(t));
  }
  std::vector<double> yt;
  if (opt.log_y) {
    // m x 10^k: more mantissas when the axis spans few decades, every n-th decade when many.
    const double span = y1 - y0;
    const std::vector<int> mants = span <= 1.2 ? std::vector<int>{1, 2, 3, 5} : span <= 3 ? std::vector<int>{1, 2, 5}
                                                                                           : std::vector<int>{1};
    const int every = std::max(1, static_cast<int>(std::ceil(span / 8)));
    for (int k = static_cast<int>(std::floor(y0)); k <= static_cast<int>(std::ceil(y1)); ++k) {
      if (k % every != 0) continue;
      for (int m : mants) yt.push_back(k + std::log10(static_cast<double>(m)));
    }
  } else {
    yt = nice_ticks(y0, y1);
  }
  for (double t : yt) {
    if (t < y0 - 1e-9 || t > y1 + 1e-9) continue;
    s += fmt::format("<line x1=\"{1:.1f}\" y1=\"{0:.1f}\" x2=\"{2:.1f}\" y2=\"{0:.1f}\" stroke=\"#e5e5e5\"/>\n", py(t),
                     left, left + pw);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 6, py(t) + 4,
                     opt.log_y ? tick_label(std::pow(10.0, t)) : tick_label(t));
  }
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                   pw, ph);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + pw / 2, H - 14,
                   esc(opt.x_label));
  s += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">{}{}</text>\n",
                   top + ph / 2, esc(opt.y_label), opt.log_y ? " (log)" : "");

  // Series and legend.
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& sr = series[k];
    const char* colour = kColours[k % 10];
    const char* dash = kDashes[(k / 10) % 4];
    std::string pts, marks;  // a marker on every point, so a one-point series still shows
    for (size_t i = 0; i < std::min(sr.x.size(), sr.y.size()); ++i) {
      if (!usable(sr.y[i]) || !std::isfinite(sr.x[i])) continue;
      const double x = px(sr.x[i]), y = py(opt.log_y ? std::log10(sr.y[i]) : sr.y[i]);
      pts += fmt::format("{:.1f},{:.1f} ", x, y);
      marks += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n", x, y, colour);
    }
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\" stroke-dasharray=\"{}\" points=\"{}\"/>\n",
                     colour, dash, pts);
    s += marks;
    const double ly = top + 10 + 18 * static_cast<double>(k);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>\n",
                     left + pw + 12, ly, left + pw + 36, ly, colour, dash);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", left + pw + 42, ly + 4, esc(sr.name));
  }
  s += "</svg>\n";
  return s;
}

void write_svg_line_plot(const std::filesystem::path& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& opt) {
  write_file_atomic(path, svg_line_plot(series, opt));
}

}  // namespace hyb
