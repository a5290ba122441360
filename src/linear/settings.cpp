// linear/settings: LinearSettings (derived from the parent model, validated, to and from JSON)
// and the two factories that build a module from them (through the registry, linear/kinds).
#include "io/config.h"
#include "linear/blocks.h"
#include "linear/kinds.h"
#include "linear/linear.h"
#include "util/error.h"

namespace hyb {

void LinearSettings::validate(const std::string& where) const {
  const MixerKind* k = find_mixer_kind(kind);
  if (!k) fail(where, "unknown linear-attention kind '{}' (expected {})", kind, mixer_kind_list());
  if (hidden_size <= 0 || num_heads <= 0 || num_kv_heads <= 0 || head_dim <= 0)
    fail(where, "hidden_size, num_heads, num_kv_heads and head_dim must be positive "
         "(got {}, {}, {}, {})", hidden_size, num_heads, num_kv_heads, head_dim);
  if (num_heads % num_kv_heads != 0)
    fail(where, "num_heads {} is not a multiple of num_kv_heads {}", num_heads, num_kv_heads);
  if (conv_size < 1) fail(where, "conv_size must be at least 1 (got {})", conv_size);
  if (gate_low_rank < 1) fail(where, "gate_low_rank must be at least 1 (got {})", gate_low_rank);
  if (!(gate_logit_normalizer > 0))
    fail(where, "gate_logit_normalizer must be positive (got {})", gate_logit_normalizer);
  if (!(norm_eps > 0)) fail(where, "norm_eps must be positive (got {})", norm_eps);
  if (chunk_size < 1) fail(where, "chunk_size must be at least 1 (got {})", chunk_size);
  if (k->check) k->check(*this, where);
}

LinearSettings LinearSettings::for_model(const std::string& kind, const ModelConfig& cfg) {
  const std::string where = fmt::format("linear attention for {} model", cfg.model_type);
  if (cfg.hidden_size <= 0 || cfg.num_heads <= 0)
    fail(where, "hidden_size ({}) and num_heads ({}) must be positive", cfg.hidden_size,
         cfg.num_heads);
  LinearSettings s;
  s.kind = kind;
  s.hidden_size = cfg.hidden_size;
  s.num_heads = cfg.num_heads;
  s.num_kv_heads = cfg.num_kv_heads > 0 ? cfg.num_kv_heads : cfg.num_heads;
  if (cfg.head_dim > 0) {
    s.head_dim = cfg.head_dim;
  } else {
    if (cfg.hidden_size % cfg.num_heads != 0)
      fail(where, "hidden_size {} is not divisible by num_heads {}", cfg.hidden_size,
           cfg.num_heads);
    s.head_dim = cfg.hidden_size / cfg.num_heads;
  }
  s.qkv_bias = cfg.attention_bias || cfg.model_type == "qwen2";
  s.validate(where);
  return s;
}

namespace {
// Every numeric setting by its JSON key: to_json and from_json read these tables, so a new knob
// is one field in LinearSettings and one line here.
const std::pair<const char*, int64_t LinearSettings::*> kIntegers[] = {
    {"hidden_size", &LinearSettings::hidden_size}, {"num_heads", &LinearSettings::num_heads},
    {"num_kv_heads", &LinearSettings::num_kv_heads}, {"head_dim", &LinearSettings::head_dim},
    {"conv_size", &LinearSettings::conv_size},     {"gate_low_rank", &LinearSettings::gate_low_rank},
    {"chunk_size", &LinearSettings::chunk_size}};
const std::pair<const char*, double LinearSettings::*> kNumbers[] = {
    {"gate_logit_normalizer", &LinearSettings::gate_logit_normalizer}, {"norm_eps", &LinearSettings::norm_eps}};
}  // namespace

nlohmann::json LinearSettings::to_json() const {
  nlohmann::json j = {{"kind", kind}, {"qkv_bias", qkv_bias}};
  for (const auto& [key, field] : kIntegers) j[key] = this->*field;
  for (const auto& [key, field] : kNumbers) j[key] = this->*field;
  return j;
}

LinearSettings LinearSettings::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "linear-attention settings must be a JSON object");
  for (const char* key : {"kind", "hidden_size", "num_heads", "head_dim"})
    if (!j.contains(key)) fail(where, "linear-attention settings lack '{}'", key);
  LinearSettings s;
  s.num_kv_heads = 0;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& val = it.value();
    auto integer = [&](int64_t& f) {
      if (!val.is_number_integer()) fail(where, "'{}' must be an integer", key);
      f = val.get<int64_t>();
    };
    auto number = [&](double& f) {
      if (!val.is_number()) fail(where, "'{}' must be a number", key);
      f = val.get<double>();
    };
    if (key == "kind") {
      if (!val.is_string()) fail(where, "'kind' must be a string");
      s.kind = val.get<std::string>();
    } else if (key == "qkv_bias") {
      if (!val.is_boolean()) fail(where, "'qkv_bias' must be true or false");
      s.qkv_bias = val.get<bool>();
    } else {
      bool known = false;
      for (const auto& [name, field] : kIntegers)
        if (key == name) integer(s.*field), known = true;
      for (const auto& [name, field] : kNumbers)
        if (key == name) number(s.*field), known = true;
      if (!known) fail(where, "unknown linear-attention setting '{}'", key);
    }
  }
  if (s.num_kv_heads == 0) s.num_kv_heads = s.num_heads;
  s.validate(where);
  return s;
}

namespace {
std::unique_ptr<LinearMixer> build(const LinearSettings& s, const AttentionWeights* parent,
                                   uint64_t seed) {
  s.validate("linear settings");
  if (parent) linear::check_parent(s, *parent);
  return find_mixer_kind(s.kind)->make(s, parent, seed);
}
}  // namespace

std::unique_ptr<TokenMixer> make_linear_mixer(const LinearSettings& s, uint64_t seed) {
  return build(s, nullptr, seed);
}

std::unique_ptr<TokenMixer> make_linear_mixer_from_attention(const LinearSettings& s,
                                                             const AttentionWeights& parent,
                                                             uint64_t seed) {
  return build(s, &parent, seed);
}

}  // namespace hyb
