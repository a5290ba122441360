// search/layer_swapper: swaps a model's layers between full attention and their linear modules
// so that exactly a given set is linear, keeping every mixer not installed (the distilled module,
// or the parked attention) for the next swap. The search's scorer and the demo share it.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>

#include "io/layers.h"

namespace hyb {

class CausalLM;
class TokenMixer;

class LayerSwapper {
 public:
  // `linear`: the module of each layer that may become linear; `settings`: their LinearSettings
  // JSON (what config.json's linear_attention records for the swapped-in layers).
  LayerSwapper(CausalLM& model, std::map<int64_t, std::unique_ptr<TokenMixer>> linear, nlohmann::json settings);
  ~LayerSwapper();  // puts every attention back
  LayerSwapper(const LayerSwapper&) = delete;
  LayerSwapper& operator=(const LayerSwapper&) = delete;

  // Exactly `layers` (sorted) linear afterwards; throws hyb::Error for a layer without a module.
  void set(const LayerSet& layers);
  const LayerSet& linear_layers() const { return in_model_; }

 private:
  CausalLM& model_;
  // Mixers not in the model right now, by layer: distilled modules and parked attention.
  std::map<int64_t, std::unique_ptr<TokenMixer>> linear_, attention_;
  nlohmann::json settings_;
  LayerSet in_model_;  // layers currently linear in model_
};

}  // namespace hyb
