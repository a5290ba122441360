#include "linear/kinds.h"

#include "linear/blocks.h"
#include "linear/linear.h"
#include "util/error.h"

namespace hyb {

namespace {

void check_jet(const LinearSettings& s, const std::string& where) {
  if ((s.num_heads * s.head_dim) % 8 != 0)
    fail(where, "jet: value dim {} (num_heads x head_dim) is not divisible by 8, the kernel "
         "generator's reduction", s.num_heads * s.head_dim);
}

}  // namespace

const std::vector<MixerKind>& mixer_kinds() {
  static const std::vector<MixerKind> kinds = {
      {"gla", "Gated Linear Attention (fla GatedLinearAttention)", linear::new_gla, nullptr},
      {"gdn", "Gated DeltaNet (fla GatedDeltaNet)", linear::new_gated_delta, nullptr},
      {"jet", "JetBlock (Jet-Nemotron: Gated DeltaNet with a dynamic convolution on v)", linear::new_gated_delta,
       check_jet},
  };
  return kinds;
}

const MixerKind* find_mixer_kind(const std::string& name) {
  for (const auto& k : mixer_kinds())
    if (name == k.name) return &k;
  return nullptr;
}

std::vector<std::string> mixer_kind_names() {
  std::vector<std::string> out;
  for (const auto& k : mixer_kinds()) out.push_back(k.name);
  return out;
}

std::string mixer_kind_list() {
  const auto names = mixer_kind_names();
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

}  // namespace hyb
