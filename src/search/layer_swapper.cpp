#include "search/layer_swapper.h"

#include <algorithm>

#include "model/model.h"
#include "util/error.h"

namespace hyb {

LayerSwapper::LayerSwapper(CausalLM& model, std::map<int64_t, std::unique_ptr<TokenMixer>> linear,
                           nlohmann::json settings)
    : model_(model), linear_(std::move(linear)), settings_(std::move(settings)) {}

LayerSwapper::~LayerSwapper() { set({}); }

void LayerSwapper::set(const LayerSet& layers) {
  for (int64_t l = 0; l < model_.num_layers(); ++l) {
    const bool want = std::binary_search(layers.begin(), layers.end(), l);
    const bool have = std::binary_search(in_model_.begin(), in_model_.end(), l);
    if (want == have) continue;
    if (want) {
      if (!linear_.count(l)) fail("search", "no distilled module for layer {}", l);
      attention_[l] = model_.set_mixer(l, std::move(linear_[l]), settings_);
      linear_.erase(l);
    } else {
      linear_[l] = model_.set_mixer(l, std::move(attention_[l]));
      attention_.erase(l);
    }
  }
  in_model_ = layers;
}

}  // namespace hyb
