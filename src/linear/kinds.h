// linear/kinds: the registry of linear-attention kinds, the one list of them. Each entry holds the
// name that settings, files and --mixer use ("gla"), a line for help texts, the factory that
// builds the module (random or from the parent attention) and the kind's own checks of its
// settings. Adding a mixer: its module file and ops, and one entry in kinds.cpp; validation,
// loading and the commands' --mixer lists follow from here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hyb {

struct AttentionWeights;
struct LinearSettings;
class LinearMixer;

struct MixerKind {
  const char* name;
  const char* description;
  // parent == nullptr: random init; else initialised from the parent attention (linear.h).
  std::unique_ptr<LinearMixer> (*make)(const LinearSettings& s, const AttentionWeights* parent, uint64_t seed);
  // Checks of the settings that only this kind needs (nullptr: none); throws hyb::Error naming `where`.
  void (*check)(const LinearSettings& s, const std::string& where);
};

const std::vector<MixerKind>& mixer_kinds();
const MixerKind* find_mixer_kind(const std::string& name);  // nullptr when unknown
std::vector<std::string> mixer_kind_names();                // "gla", "gdn", "jet"
std::string mixer_kind_list();                              // "gla, gdn or jet" (messages)

}  // namespace hyb
