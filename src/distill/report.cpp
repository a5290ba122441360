#include "distill/report.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <string>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"
#include "util/plot.h"

namespace hyb {
namespace fs = std::filesystem;

namespace {
// One log.jsonl line, or a discarded value for a line that is not JSON (cut off by a kill) or
// nests too deep: the log is ours, and a bad line is skipped rather than refused.
nlohmann::json log_line(const std::string& line) {
  try {
    return parse_json(line, "log.jsonl");
  } catch (const Error&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}
}  // namespace

nlohmann::json metrics_json(const std::vector<LayerMetrics>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& x : m) j[std::to_string(x.layer)] = {{"mse", x.mse}, {"rel_mse", x.rel_mse}};
  return j;
}

std::vector<LayerMetrics> metrics_from_json(const nlohmann::json& j) {
  std::vector<LayerMetrics> m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m.push_back({std::stoll(it.key()), it.value().at("mse").get<double>(), it.value().at("rel_mse").get<double>()});
  std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.layer < b.layer; });
  return m;
}

void write_plots(const fs::path& dir, const std::vector<int64_t>& layers) {
  std::map<int64_t, PlotSeries> train, held;
  for (int64_t l : layers) train[l].name = held[l].name = "layer " + std::to_string(l);
  auto add = [](std::map<int64_t, PlotSeries>& into, double step, const nlohmann::json& m, const char* key) {
    for (auto it = m.begin(); it != m.end(); ++it) {
      auto s = into.find(std::stoll(it.key()));
      if (s == into.end()) continue;
      s->second.x.push_back(step);
      s->second.y.push_back(it.value().at(key).get<double>());
    }
  };
  std::ifstream in(dir / "log.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = log_line(line);
    if (j.is_discarded()) continue;
    const double step = j.value("step", 0.0);
    if (j.contains("train")) add(train, step, j["train"], "mse");
    if (j.contains("heldout")) add(held, step, j["heldout"], "rel_mse");
  }
  auto values = [](const std::map<int64_t, PlotSeries>& m) {
    std::vector<PlotSeries> v;
    for (const auto& [l, s] : m) v.push_back(s);
    return v;
  };
  write_svg_line_plot(dir / "loss.svg", values(train),
                      {"Blockwise distillation: training loss per layer", "step", "MSE", true});
  write_svg_line_plot(dir / "heldout.svg", values(held),
                      {"Held-out relative MSE per layer", "step", "MSE / Var(target)", true});
}

nlohmann::json start_end_metrics(const std::vector<LayerMetrics>& start, const std::vector<LayerMetrics>& end) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < std::min(start.size(), end.size()); ++i)
    j[std::to_string(end[i].layer)] = {{"start", {{"mse", start[i].mse}, {"rel_mse", start[i].rel_mse}}},
                                       {"end", {{"mse", end[i].mse}, {"rel_mse", end[i].rel_mse}}}};
  return j;
}

}  // namespace hyb
