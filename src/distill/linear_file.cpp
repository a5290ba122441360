#include "distill/linear_file.h"

#include <ATen/ATen.h>

#include <set>
#include <sstream>

#include "distill/distill.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb {
namespace fs = std::filesystem;

namespace {

std::string layer_prefix(int64_t l) { return "model.layers." + std::to_string(l) + ".linear_attn."; }

std::vector<int64_t> parse_stored_layers(const std::string& s, const std::string& where) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail(where, "metadata \"layers\" holds '{}', not a layer number", item);
    }
  }
  return out;
}

}  // namespace

void save_linear_layers(const fs::path& path, const LinearSettings& settings,
                        const std::map<int64_t, TokenMixer*>& modules) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::vector<int64_t> layers;
  for (const auto& [l, m] : modules) {
    layers.push_back(l);
    for (auto& [name, t] : m->parameters(layer_prefix(l)))
      if (t->defined()) tensors.emplace_back(name, t->detach());
  }
  save_safetensors(path, tensors,
                   {{"format", "pt"},
                    {"linear_attention", settings.to_json().dump()},
                    {"layers", format_layer_list(layers)}});
}

std::vector<int64_t> linear_file_layers(const fs::path& path) {
  auto f = SafetensorsFile::open(path);
  auto it = f->metadata().find("layers");
  if (it == f->metadata().end()) fail(path.string(), "no \"layers\" metadata (not a linear.safetensors from distill)");
  return parse_stored_layers(it->second, path.string());
}

void load_linear_layers(CausalLM& model, const fs::path& path, const std::vector<int64_t>& wanted) {
  auto f = SafetensorsFile::open(path);
  const std::string where = path.string();
  auto meta = f->metadata().find("linear_attention");
  if (meta == f->metadata().end())
    fail(where, "no \"linear_attention\" metadata (not a linear.safetensors from distill)");
  nlohmann::json sj;
  try {
    sj = nlohmann::json::parse(meta->second);
  } catch (const nlohmann::json::exception& e) {
    fail(where, "metadata \"linear_attention\" is not JSON ({})", e.what());
  }
  const LinearSettings settings = LinearSettings::from_json(sj, where);
  const ModelConfig& c = model.config();
  if (settings.hidden_size != c.hidden_size)
    fail(where, "modules have hidden size {}, the model {}", settings.hidden_size, c.hidden_size);

  const std::vector<int64_t> stored = linear_file_layers(path);
  const std::set<int64_t> stored_set(stored.begin(), stored.end());
  const std::vector<int64_t> layers = wanted.empty() ? stored : wanted;
  for (int64_t l : layers) {
    if (l < 0 || l >= model.num_layers()) fail(where, "layer {} is outside the model's {} layers", l, model.num_layers());
    if (!stored_set.count(l)) fail(where, "holds no module for layer {} (it has {})", l, format_layer_list(stored));
  }

  for (int64_t l : layers) {
    const std::string prefix = layer_prefix(l);
    auto module = make_linear_mixer(settings, /*seed=*/0);
    std::set<std::string> used;
    for (auto& [name, t] : module->parameters(prefix)) {
      if (!t->defined()) continue;
      if (!f->has(name)) fail(where, "missing tensor '{}' of layer {}", name, l);
      at::Tensor v = f->tensor(name);
      if (v.sizes() != t->sizes())
        fail(where, "tensor '{}' has shape {}, the module expects {}", name, c10::str(v.sizes()), c10::str(t->sizes()));
      // clone(): the file's mapping is read-only and goes away with `f` otherwise kept alive.
      *t = v.to(model.device(), model.dtype()).clone();
      used.insert(name);
    }
    for (const auto& [name, e] : f->entries())
      if (name.rfind(prefix, 0) == 0 && !used.count(name))
        fail(where, "unexpected tensor '{}' (not a parameter of a {} module)", name, settings.kind);
    model.set_mixer(l, std::move(module), settings.to_json());
  }
}

}  // namespace hyb
