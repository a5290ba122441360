// io/layers: how a checkpoint names its decoder layers and their types, and the layer sets and
// lists the commands take. The one home of "model.layers.{l}." and of the layer-type strings
// that config.json's `layer_types` holds (a hybrid's linear layers are "linear_attention").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hyb {

inline constexpr char kFullAttention[] = "full_attention";
inline constexpr char kLinearAttention[] = "linear_attention";

std::string layer_prefix(int64_t layer);      // "model.layers.{l}."
std::string attention_prefix(int64_t layer);  // "model.layers.{l}.self_attn."
std::string linear_prefix(int64_t layer);     // "model.layers.{l}.linear_attn."

using LayerSet = std::vector<int64_t>;  // sorted layer indices replaced by linear modules

LayerSet all_layers(int64_t num_layers);                        // 0..n-1
LayerSet complement(const LayerSet& layers, int64_t num_layers);  // the layers of 0..n-1 not in `layers`

// A --layers value: "" or "all" (every layer), or a comma list of layers and ranges ("0,3-5"),
// sorted and deduplicated. Throws hyb::Error naming `where` for a bad item, a layer outside
// 0..num_layers-1, an empty range or an empty selection.
std::vector<int64_t> parse_layer_list(const std::string& spec, int64_t num_layers, const std::string& where);
std::string format_layer_list(const std::vector<int64_t>& layers);  // "0,1,2"

}  // namespace hyb
