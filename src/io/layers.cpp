#include "io/layers.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "util/error.h"

namespace hyb {

std::string layer_prefix(int64_t l) { return "model.layers." + std::to_string(l) + "."; }
std::string attention_prefix(int64_t l) { return layer_prefix(l) + "self_attn."; }
std::string linear_prefix(int64_t l) { return layer_prefix(l) + "linear_attn."; }

LayerSet all_layers(int64_t n) {
  LayerSet s(n);
  for (int64_t l = 0; l < n; ++l) s[l] = l;
  return s;
}

LayerSet complement(const LayerSet& layers, int64_t n) {
  LayerSet out;
  for (int64_t l = 0; l < n; ++l)
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) out.push_back(l);
  return out;
}

std::vector<int64_t> parse_layer_list(const std::string& spec, int64_t n, const std::string& where) {
  std::set<int64_t> out;
  if (spec.empty() || spec == "all") {
    for (int64_t l = 0; l < n; ++l) out.insert(l);
    return {out.begin(), out.end()};
  }
  // `item` names the whole list item in the message: "-1" split at its dash is "" and "1".
  auto num = [&](const std::string& s, const std::string& item) -> int64_t {
    size_t used = 0;
    int64_t v = -1;
    try {
      if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || v < 0)
      fail(where, "'{}' is not a layer number or a range of them (e.g. 3 or 0-2)", item);
    if (v >= n) fail(where, "layer {} does not exist (the model has layers 0-{})", v, n - 1);
    return v;
  };
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      out.insert(num(item, item));
      continue;
    }
    const int64_t a = num(item.substr(0, dash), item), b = num(item.substr(dash + 1), item);
    if (a > b) fail(where, "empty range '{}'", item);
    for (int64_t l = a; l <= b; ++l) out.insert(l);
  }
  if (out.empty()) fail(where, "no layers selected");
  return {out.begin(), out.end()};
}

std::string format_layer_list(const std::vector<int64_t>& layers) {
  std::string s;
  for (size_t i = 0; i < layers.size(); ++i) s += (i ? "," : "") + std::to_string(layers[i]);
  return s;
}

}  // namespace hyb
