// The SVG plot writer: nice ticks, one polyline and legend entry per series, log axis skipping
// points it cannot draw.
#include <gtest/gtest.h>

#include <cmath>

#include "util/plot.h"

namespace hyb {
namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(Plot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(0.13, 0.61, 5), (std::vector<double>{0.2, 0.3, 0.4, 0.5, 0.6}));
  EXPECT_EQ(nice_ticks(-3, 3, 3), (std::vector<double>{-2, 0, 2}));
}

TEST(Plot, SeriesLegendAndLogAxis) {
  PlotSeries a{"layer 0", {0, 1, 2}, {1, 0.1, 0.01}}, b{"layer <1>", {0, 1, 2}, {2, 0, NAN}};
  PlotOptions opt{"loss", "step", "MSE", true};
  const std::string svg = svg_line_plot({a, b}, opt);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_NE(svg.find("layer &lt;1&gt;"), std::string::npos);  // escaped
  EXPECT_NE(svg.find(">0.01<"), std::string::npos);           // decade ticks
  EXPECT_NE(svg.find(">1<"), std::string::npos);
  // Series b keeps only its one drawable point on the log axis.
  const auto p = svg.find("points=\"", svg.find("<polyline", svg.find("<polyline") + 1));
  const std::string pts = svg.substr(p + 8, svg.find('"', p + 8) - p - 8);
  EXPECT_EQ(count(pts, ","), 1u) << pts;
  EXPECT_EQ(count(svg, "<circle"), 4u);  // a marker per drawn point: 3 of a, 1 of b
  // Nothing to draw still gives a valid document.
  EXPECT_NE(svg_line_plot({}, {}).find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace hyb
