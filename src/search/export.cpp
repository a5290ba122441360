#include "search/export.h"

#include <set>

#include "io/config.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear_file.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

void export_hybrid(const fs::path& model_dir, const fs::path& distilled, const std::vector<int64_t>& layers,
                   const fs::path& out_dir, bool replace_existing) {
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

  // Build in a new sibling directory, then rename it into place.
  StagedDir staged(out_dir);
  const fs::path& tmp = staged.path();
  save_safetensors(tmp / "model.safetensors", tensors, {{"format", "pt"}});
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                        "vocab.json", "merges.txt", "tokenizer.model"})
    if (fs::exists(model_dir / f)) fs::copy_file(model_dir / f, tmp / f, fs::copy_options::overwrite_existing);
  write_file_atomic(tmp / "config.json", cfg.to_json().dump(2) + "\n");
  staged.publish("--out", replace_existing);
}

}  // namespace hyb
