// demo/report: what the demo prints and draws, derived from report.json alone (so the text, the
// plots and the JSON can never disagree): the text report, and three SVG plots
//   search.svg     task score against the number of linear layers along each greedy path
//   placement.svg  which layers each task's M_opt keeps as full attention
//   decode.svg     decoding tokens/s against context length, teacher and hybrids
// Pure C++. Seam: util/plot (distill branch) is the library's line-plot writer; the line plots
// here can move onto it when it lands.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace hyb::demo {

std::string format_report(const nlohmann::json& report);
// Writes the plots into `dir`; returns their file names.
nlohmann::json write_plots(const nlohmann::json& report, const std::filesystem::path& dir);

}  // namespace hyb::demo
