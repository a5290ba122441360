// linear/linear_file: linear.safetensors, the linear-modules file that `hybridize distill` writes
// and the search, export, perplexity and the demo read: every distilled layer's module under the
// names a hybrid model directory uses,
//   model.layers.{l}.linear_attn.<local name from the module's parameters()>
// with metadata {"linear_attention": LinearSettings JSON, "layers": "0,1,..."} (+ "format": "pt")
// and the teacher's identity (io/fingerprint): "teacher_config", "teacher_weights" and "teacher"
// (its directory, for messages). Files from before the identity was recorded lack the three.
// One writer (save_linear_layers) and one validated reader (LinearFile); build_linear_module is
// the one place a stored module is rebuilt from its tensors, shared with hybrid model directories.
#pragma once
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/fingerprint.h"
#include "linear/linear.h"

namespace hyb {

class CausalLM;
class SafetensorsFile;
class TokenMixer;
struct ModelConfig;

// Writes the modules (layer -> module), parameters as they are (fp32 masters), atomically, with
// the identity of the teacher they were distilled from (teacher_dir: its directory, for messages).
void save_linear_layers(const std::filesystem::path& path, const LinearSettings& settings,
                        const std::map<int64_t, TokenMixer*>& modules, const ModelFingerprint& teacher,
                        const std::string& teacher_dir);

// Layer l's module built from `settings`, every parameter filled by fetch(name, shape), the name
// being model.layers.{l}.linear_attn.<local name>. fetch checks and converts as its source needs.
using TensorFetch = std::function<at::Tensor(const std::string& name, const std::vector<int64_t>& shape)>;
std::unique_ptr<TokenMixer> build_linear_module(const LinearSettings& settings, int64_t layer, const TensorFetch& fetch);

// A linear.safetensors, validated on open: settings (metadata "linear_attention", valid JSON and
// valid settings), stored layers (metadata "layers"), and no tensor outside a stored layer's
// module. Every error is a hyb::Error naming the file and the problem.
class LinearFile {
 public:
  static LinearFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  const LinearSettings& settings() const { return settings_; }
  const nlohmann::json& settings_json() const { return settings_json_; }  // as stored
  const std::vector<int64_t>& layers() const { return layers_; }
  bool has_layer(int64_t l) const;

  // Throws unless the modules fit a model of `cfg`: the same hidden size, and every layer in
  // `layers` (empty: every stored layer) inside the model and stored here.
  void check_fits(const ModelConfig& cfg, const std::vector<int64_t>& layers = {}) const;
  // The teacher recorded at distillation (absent in files written before it was recorded).
  const std::optional<ModelFingerprint>& teacher() const { return teacher_; }
  const std::string& teacher_dir() const { return teacher_dir_; }
  // Throws unless the modules were distilled from the model in `model_dir` (its fingerprint, see
  // io/fingerprint), naming this file and what differs (config.json or the weights' names, shapes,
  // dtypes). A file that records no teacher is accepted with a one-line warning on stderr.
  void check_teacher(const std::filesystem::path& model_dir) const;
  void check_teacher(const ModelFingerprint& model, const std::string& model_dir) const;
  // Layer l's module, every tensor checked (missing, shape, left over), in `dtype` on `device`.
  std::unique_ptr<TokenMixer> module(int64_t l, at::Device device, at::ScalarType dtype) const;
  // Layer l's tensors as stored (dtype and all, zero-copy), checked as module() checks them.
  std::vector<std::pair<std::string, at::Tensor>> tensors(int64_t l) const;

 private:
  std::filesystem::path path_;
  std::shared_ptr<SafetensorsFile> file_;
  LinearSettings settings_;
  nlohmann::json settings_json_;
  std::vector<int64_t> layers_;
  std::optional<ModelFingerprint> teacher_;
  std::string teacher_dir_;
  std::map<std::string, std::vector<int64_t>> shapes_;  // a module's parameters: local name -> shape

  void check_layer(int64_t l) const;  // layer l stored, its tensors exactly the module's parameters
};

// The layers stored in a linear.safetensors.
std::vector<int64_t> linear_file_layers(const std::filesystem::path& path);

// Loads the stored module of each layer in `layers` (empty: every stored layer) in the model's
// dtype and device and swaps it into the model with set_mixer. Throws hyb::Error naming the file
// for a missing layer or tensor, a shape that does not fit, settings that do not match the model,
// tensors left over for a loaded layer, or (model_dir given) another teacher (check_teacher).
void load_linear_layers(CausalLM& model, const std::filesystem::path& path, const std::vector<int64_t>& layers = {},
                        const std::filesystem::path& model_dir = {});

}  // namespace hyb
