#include "search/export.h"

#include <fmt/format.h>

#include <iostream>
#include <map>
#include <set>

#include "io/config.h"
#include "io/fla_format.h"
#include "io/hf_code.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear_file.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

void export_hybrid_layers(const fs::path& model_dir, const fs::path& distilled, const std::string& layers,
                          const fs::path& out_dir, HybridFormat format) {
  // "" is every layer to parse_layer_list (a default elsewhere); here it is a mistake.
  if (layers.empty()) fail("--layers", "empty (give layers such as 3,7,11 or 0-2,5, or all)");
  require_new_output_dir("--out", out_dir, {model_dir, distilled});
  export_hybrid(model_dir, distilled, parse_layer_list(layers, ModelConfig::load(model_dir).num_layers, "--layers"),
                out_dir, /*replace_existing=*/false, format);
}

void export_hybrid(const fs::path& model_dir, const fs::path& distilled, const std::vector<int64_t>& layers,
                   const fs::path& out_dir, bool replace_existing, HybridFormat format) {
  const OutputLock lock = OutputLock::acquire("--out", out_dir);  // a second export into it is refused
  if (replace_existing)
    require_outside_inputs("--out", out_dir, {model_dir, distilled});
  else
    require_new_output_dir("--out", out_dir, {model_dir, distilled});
  ModelConfig cfg = ModelConfig::load(model_dir);
  WeightStore base = WeightStore::open_dir(model_dir);
  const LinearFile lin = LinearFile::open(distilled);
  const nlohmann::json& settings = lin.settings_json();
  if (cfg.num_linear_layers() > 0 && cfg.linear != settings)
    fail(distilled.string(), "module settings differ from the linear layers already in {}", model_dir.string());

  std::set<int64_t> replace(layers.begin(), layers.end());
  for (int64_t l : replace) {
    if (l < 0 || l >= cfg.num_layers) fail("--layers", "layer {} is outside 0..{}", l, cfg.num_layers - 1);
    if (cfg.is_linear(l)) fail("--layers", "layer {} is already linear in {}", l, model_dir.string());
  }

  lin.check_fits(cfg, layers);
  // The modules' teacher must be this model, or (a hybrid being extended) the teacher its
  // model.safetensors records from the export that made it.
  std::map<std::string, std::string> provenance = {{"format", "pt"}};
  if (cfg.num_linear_layers() == 0) {
    const ModelFingerprint fp = model_fingerprint(model_dir);
    lin.check_teacher(fp, model_dir.string());
    provenance["teacher_config"] = fp.config, provenance["teacher_weights"] = fp.weights;
  } else {
    const fs::path single = model_dir / "model.safetensors";
    const auto meta = fs::exists(single) ? SafetensorsFile::open(single)->metadata() : std::map<std::string, std::string>{};
    if (meta.count("teacher_config") && meta.count("teacher_weights")) {
      const ModelFingerprint fp{meta.at("teacher_config"), meta.at("teacher_weights")};
      lin.check_teacher(fp, model_dir.string() + " (its teacher)");
      provenance["teacher_config"] = fp.config, provenance["teacher_weights"] = fp.weights;
    } else {
      std::cerr << fmt::format("warning: {}: records no teacher (exported before export recorded one); {} not "
                               "checked against it\n", single.string(), distilled.string());
    }
  }

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& name : base.names()) {
    bool drop = false;
    for (int64_t l : replace)
      drop = drop || name.rfind(attention_prefix(l), 0) == 0;
    if (!drop) tensors.emplace_back(name, base.tensor(name));
  }
  for (int64_t l : replace) {
    for (auto& t : lin.tensors(l)) tensors.push_back(std::move(t));
    cfg.layer_types[l] = kLinearAttention;
  }
  cfg.linear = settings;
  // fla's format: refused before anything is written where fla cannot express the hybrid.
  std::string config_text = cfg.to_json().dump(2) + "\n";
  if (format == HybridFormat::kFla) {
    const FlaConfig fla = fla_config(cfg, "--to fla");
    for (const auto& w : fla.warnings) std::cerr << "warning: " << w << "\n";
    const std::string kind = settings.at("kind").get<std::string>();
    for (auto& [name, t] : tensors) name = fla_parameter_name(name, kind);
    config_text = fla.config.dump(2) + "\n";
  }

  // Build in a new sibling directory, then rename it into place.
  StagedDir staged(out_dir);
  const fs::path& tmp = staged.path();
  save_safetensors(tmp / "model.safetensors", tensors, provenance);
  copy_tokenizer_files(model_dir, tmp);
  write_file_atomic(tmp / "config.json", config_text);
  if (format == HybridFormat::kHybridize) write_hf_code(tmp);
  staged.publish("--out", replace_existing);
}

void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                        "vocab.json", "merges.txt", "tokenizer.model"})
    if (fs::exists(from / f)) fs::copy_file(from / f, to / f, fs::copy_options::overwrite_existing);
}

}  // namespace hyb
