// distill/report: the records a distillation run leaves in --out, besides the modules and the
// checkpoint: log.jsonl (one JSON object per logged step: training loss / rel-MSE per layer as the
// mean since the previous line, held-out metrics when evaluated), distill.json (the final report)
// and two SVG plots drawn from the log. Internal to distill/ (trainer.cpp). Pure C++.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "distill/distill.h"

namespace hyb {

// {"<layer>": {"mse": .., "rel_mse": ..}, ...} and back (sorted by layer).
nlohmann::json metrics_json(const std::vector<LayerMetrics>& m);
// `where` names the file read (a damaged one gives hyb::Error naming it and the key).
std::vector<LayerMetrics> metrics_from_json(const nlohmann::json& j, const std::string& where);

// loss.svg (training MSE per layer against the step, log y) and heldout.svg (held-out rel-MSE),
// from dir/log.jsonl, so a resumed run's plots cover every run.
void write_plots(const std::filesystem::path& dir, const std::vector<int64_t>& layers);

// distill.json's "metrics": per layer, held-out {mse, rel_mse} at the start and at the end.
nlohmann::json start_end_metrics(const std::vector<LayerMetrics>& start, const std::vector<LayerMetrics>& end);

}  // namespace hyb
