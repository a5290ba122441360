#include "linear/linear_file.h"

#include <ATen/ATen.h>

#include <iostream>
#include <set>
#include <sstream>

#include "io/config.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;

namespace {

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

// A lower bound of one module's parameter count, whatever its kind: the q, k, v and o projections
// every kind has (hidden_size x heads x head_dim each). A double: no overflow for any settings.
// The parameters every module of these settings holds at least: its q/k/v/o projections, plus the
// parts the kind's own sizes set (GLA's low-rank gate; the convolutions' taps: GDN has three of
// dim x conv_size, JetBlock's kernel generator a bias of that size).
double minimum_parameters(const LinearSettings& s) {
  const double D = double(s.hidden_size), d = double(s.head_dim);
  double n = D * d * (2.0 * double(s.num_heads) + 2.0 * double(s.num_kv_heads));
  if (s.kind == "gla")
    n += double(s.gate_low_rank) * (D + double(s.num_kv_heads) * d);
  else
    n += double(s.num_heads) * d * double(s.conv_size);
  return n;
}

}  // namespace

void save_linear_layers(const fs::path& path, const LinearSettings& settings,
                        const std::map<int64_t, TokenMixer*>& modules, const ModelFingerprint& teacher,
                        const std::string& teacher_dir) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::vector<int64_t> layers;
  for (const auto& [l, m] : modules) {
    layers.push_back(l);
    for (auto& [name, t] : m->parameters(linear_prefix(l)))
      if (t->defined()) tensors.emplace_back(name, t->detach());
  }
  save_safetensors(path, tensors,
                   {{"format", "pt"},
                    {"linear_attention", settings.to_json().dump()},
                    {"layers", format_layer_list(layers)},
                    {"teacher_config", teacher.config},
                    {"teacher_weights", teacher.weights},
                    {"teacher", teacher_dir}});
}

std::unique_ptr<TokenMixer> build_linear_module(const LinearSettings& settings, int64_t layer, const TensorFetch& fetch) {
  auto module = make_linear_mixer(settings, /*seed=*/0);
  for (auto& [name, t] : module->parameters(linear_prefix(layer)))
    if (t->defined()) *t = fetch(name, t->sizes().vec());
  return module;
}

LinearFile LinearFile::open(const fs::path& path) {
  LinearFile lf;
  lf.path_ = path;
  lf.file_ = SafetensorsFile::open(path);
  const std::string where = path.string();
  const auto& meta = lf.file_->metadata();
  auto settings = meta.find("linear_attention");
  if (settings == meta.end()) fail(where, "no \"linear_attention\" metadata (not a linear.safetensors from distill)");
  lf.settings_json_ = parse_json(settings->second, where + ": metadata \"linear_attention\"");
  lf.settings_ = LinearSettings::from_json(lf.settings_json_, where);
  auto layers = meta.find("layers");
  if (layers == meta.end()) fail(where, "no \"layers\" metadata (not a linear.safetensors from distill)");
  lf.layers_ = parse_stored_layers(layers->second, where);
  auto tc = meta.find("teacher_config"), tw = meta.find("teacher_weights"), td = meta.find("teacher");
  if ((tc == meta.end()) != (tw == meta.end()))
    fail(where, "metadata holds only one of \"teacher_config\" and \"teacher_weights\"");
  if (tc != meta.end()) lf.teacher_ = ModelFingerprint{tc->second, tw->second};
  if (td != meta.end()) lf.teacher_dir_ = td->second;
  // Settings that describe modules bigger than the file's tensors are refused before a module is
  // built to learn its parameters' shapes: a hidden_size of 65536 in a 7 KB file made perplexity
  // allocate 18 GB and be killed, a head_dim of 10^9 printed LibTorch's allocator error and trace.
  // A stored layer holds at least minimum_parameters, in 2 bytes per element at the least (F16/BF16).
  size_t stored_bytes = 0;
  for (const auto& [name, e] : lf.file_->entries()) stored_bytes += e.nbytes;
  if (2.0 * minimum_parameters(lf.settings_) > double(stored_bytes))
    fail(where, "settings (hidden_size {}, num_heads {}, num_kv_heads {}, head_dim {}, gate_low_rank {}, conv_size {}) "
         "describe modules of at least {:.3g} parameters, more than the file's {} bytes of tensors hold",
         lf.settings_.hidden_size, lf.settings_.num_heads, lf.settings_.num_kv_heads, lf.settings_.head_dim,
         lf.settings_.gate_low_rank, lf.settings_.conv_size, minimum_parameters(lf.settings_), stored_bytes);
  // The module must outlive the loop: parameters() lists pointers into it (a temporary in the
  // range expression would be destroyed before the first iteration).
  const auto shape_model = make_linear_mixer(lf.settings_, /*seed=*/0);
  for (auto& [local, t] : shape_model->parameters(""))
    if (t->defined()) lf.shapes_[local] = t->sizes().vec();
  for (const auto& [name, e] : lf.file_->entries()) {
    bool stored = false;
    for (int64_t l : lf.layers_) stored = stored || name.rfind(linear_prefix(l), 0) == 0;
    if (!stored) fail(where, "unexpected tensor '{}' (in no stored layer's module: {})", name, format_layer_list(lf.layers_));
  }
  return lf;
}

bool LinearFile::has_layer(int64_t l) const { return std::find(layers_.begin(), layers_.end(), l) != layers_.end(); }

void LinearFile::check_fits(const ModelConfig& c, const std::vector<int64_t>& wanted) const {
  const std::string where = path_.string();
  if (settings_.hidden_size != c.hidden_size)
    fail(where, "modules have hidden size {}, the model {}", settings_.hidden_size, c.hidden_size);
  for (int64_t l : wanted.empty() ? layers_ : wanted) {
    if (l < 0 || l >= c.num_layers) fail(where, "layer {} is outside the model's {} layers", l, c.num_layers);
    if (!has_layer(l)) fail(where, "holds no module for layer {} (it has {})", l, format_layer_list(layers_));
  }
}

void LinearFile::check_teacher(const fs::path& model_dir) const {
  check_teacher(model_fingerprint(model_dir), model_dir.string());
}

void LinearFile::check_teacher(const ModelFingerprint& model, const std::string& model_dir) const {
  const std::string where = path_.string();
  if (!teacher_) {
    std::cerr << fmt::format("warning: {}: records no teacher (written before distill recorded one); "
                             "not checked against {}\n", where, model_dir);
    return;
  }
  const std::string from = teacher_dir_.empty() ? "" : fmt::format(" ({})", teacher_dir_);
  if (teacher_->config != model.config)
    fail(where, "distilled from another teacher{}: its config.json differs from {}'s (fingerprint {}, this model {})",
         from, model_dir, teacher_->config, model.config);
  if (teacher_->weights != model.weights)
    fail(where, "distilled from another teacher{}: its weights' names, shapes or dtypes differ from {}'s "
         "(fingerprint {}, this model {})", from, model_dir, teacher_->weights, model.weights);
}

void LinearFile::check_layer(int64_t l) const {
  const std::string where = path_.string();
  if (!has_layer(l)) fail(where, "holds no module for layer {} (it has {})", l, format_layer_list(layers_));
  const std::string prefix = linear_prefix(l);
  for (const auto& [local, shape] : shapes_) {
    const std::string name = prefix + local;
    if (!file_->has(name)) fail(where, "missing tensor '{}' of layer {}", name, l);
    const std::string& dtype = file_->entry(name).dtype;
    if (dtype != "F32" && dtype != "BF16" && dtype != "F16" && dtype != "F64")
      fail(where, "tensor '{}' has dtype {} (expected floating point: F32, BF16, F16 or F64)", name, dtype);
    const auto& stored = file_->entry(name).shape;
    if (stored != shape)
      fail(where, "tensor '{}' has shape {}, the module expects {}", name, c10::str(at::IntArrayRef(stored)),
           c10::str(at::IntArrayRef(shape)));
  }
  for (const auto& [name, e] : file_->entries())
    if (name.rfind(prefix, 0) == 0 && !shapes_.count(name.substr(prefix.size())))
      fail(where, "unexpected tensor '{}' (not a parameter of a {} module)", name, settings_.kind);
}

std::vector<std::pair<std::string, at::Tensor>> LinearFile::tensors(int64_t l) const {
  check_layer(l);
  std::vector<std::pair<std::string, at::Tensor>> out;
  const std::string prefix = linear_prefix(l);
  for (const auto& [name, e] : file_->entries())
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name, file_->tensor(name));
  return out;
}

std::unique_ptr<TokenMixer> LinearFile::module(int64_t l, at::Device device, at::ScalarType dtype) const {
  check_layer(l);
  // clone(): the file's mapping is read-only and would otherwise have to stay alive.
  return build_linear_module(settings_, l, [&](const std::string& name, const std::vector<int64_t>&) {
    return file_->tensor(name).to(device, dtype).clone();
  });
}

std::vector<int64_t> linear_file_layers(const fs::path& path) { return LinearFile::open(path).layers(); }

void load_linear_layers(CausalLM& model, const fs::path& path, const std::vector<int64_t>& wanted,
                        const fs::path& model_dir) {
  const LinearFile file = LinearFile::open(path);
  if (!model_dir.empty()) file.check_teacher(model_dir);
  file.check_fits(model.config(), wanted);
  for (int64_t l : wanted.empty() ? file.layers() : wanted)
    model.set_mixer(l, file.module(l, model.device(), model.dtype()), file.settings().to_json());
}

}  // namespace hyb
