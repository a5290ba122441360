// util/plot: a tiny SVG line-plot writer for reports (loss curves, accuracy against replaced
// layers, throughput against context length). Several named series, axes with "nice" ticks, a
// legend, optional log-scale y. No dependencies; the SVG opens in any browser.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hyb {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;  // same length; points with a non-finite y (or y <= 0 on a log axis) are skipped
};

struct PlotOptions {
  std::string title, x_label, y_label;
  bool log_y = false;
  int width = 720, height = 440;  // pixels
};

// The SVG document.
std::string svg_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& opt);
// Writes it atomically to `path`.
void write_svg_line_plot(const std::filesystem::path& path, const std::vector<PlotSeries>& series,
                         const PlotOptions& opt);

// Tick positions covering [lo, hi]: 1, 2 or 5 times a power of ten apart, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace hyb
