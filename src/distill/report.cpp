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

// A layer index as a key of the metrics objects ("3").
int64_t layer_key(const std::string& key, const std::string& where) {
  if (key.empty() || key.size() > 9 || key.find_first_not_of("0123456789") != std::string::npos)
    fail(where, "'{}' is not a layer index", key);
  return std::stoll(key);
}
}  // namespace

nlohmann::json metrics_json(const std::vector<LayerMetrics>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& x : m) j[std::to_string(x.layer)] = {{"mse", x.mse}, {"rel_mse", x.rel_mse}};
  return j;
}

std::vector<LayerMetrics> metrics_from_json(const nlohmann::json& j, const std::string& where) {
  std::vector<LayerMetrics> m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m.push_back({layer_key(it.key(), where), json_number(it.value(), "mse", where),
                 json_number(it.value(), "rel_mse", where)});
  std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.layer < b.layer; });
  return m;
}

void write_plots(const fs::path& dir, const std::vector<int64_t>& layers) {
  std::map<int64_t, PlotSeries> train, held;
  for (int64_t l : layers) train[l].name = held[l].name = "layer " + std::to_string(l);
  std::string where;  // "log.jsonl:N" of the line read
  auto add = [&](std::map<int64_t, PlotSeries>& into, double step, const nlohmann::json& j, const char* part,
                 const char* key) {
    for (const auto& [layer, v] : json_object_key(j, part, where).items()) {
      auto s = into.find(layer_key(layer, where));
      if (s == into.end()) continue;
      s->second.x.push_back(step);
      s->second.y.push_back(json_number(v, key, where));
    }
  };
  std::ifstream in(dir / "log.jsonl");
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) {
    where = (dir / "log.jsonl").string() + ":" + std::to_string(++n);
    const auto j = log_line(line);
    if (j.is_discarded()) continue;
    const double step = static_cast<double>(json_int(j, "step", where));
    if (j.contains("train")) add(train, step, j, "train", "mse");
    if (j.contains("heldout")) add(held, step, j, "heldout", "rel_mse");
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
