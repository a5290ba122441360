// config.json parsing for llama / qwen2 (both the pre-v5 and the transformers-5 style).
#include "io/config.h"

#include <cmath>
#include <fstream>

#include "util/error.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int64_t required_int(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) fail(where, "missing required key '{}'", key);
  if (!j[key].is_number_integer()) fail(where, "'{}' must be an integer", key);
  const int64_t v = j[key].get<int64_t>();
  if (v <= 0) fail(where, "'{}' must be positive, got {}", key, v);
  return v;
}

// A number that must be finite and > 0 (rope_theta, rms_norm_eps, ...).
double positive_number(const json& v, const std::string& key, const std::string& where) {
  if (!v.is_number()) fail(where, "'{}' must be a number, got {}", key, v.dump());
  const double x = v.get<double>();
  if (!(x > 0) || !std::isfinite(x)) fail(where, "'{}' must be positive, got {}", key, v.dump());
  return x;
}

// Reads the rope block: transformers 5 puts it in `rope_parameters` (theta inside),
// earlier files use top-level `rope_theta` plus an optional `rope_scaling`.
RopeConfig parse_rope(const json& j, const std::string& where) {
  RopeConfig r;
  json params = json::object();
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    params = j["rope_parameters"];
  } else if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    params = j["rope_scaling"];
  }
  if (params.contains("rope_theta")) r.theta = positive_number(params["rope_theta"], "rope_theta", where);
  else if (j.contains("rope_theta")) r.theta = positive_number(j["rope_theta"], "rope_theta", where);
  std::string type = "default";
  if (params.contains("rope_type")) type = params["rope_type"].get<std::string>();
  else if (params.contains("type")) type = params["type"].get<std::string>();
  if (type != "default" && type != "llama3") fail(where, "unsupported rope type '{}' (supported: default, llama3)", type);
  r.type = type;
  if (type == "llama3") {
    for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!params.contains(k)) fail(where, "llama3 rope scaling needs '{}'", k);
    r.factor = positive_number(params["factor"], "factor", where);
    r.low_freq_factor = positive_number(params["low_freq_factor"], "low_freq_factor", where);
    r.high_freq_factor = positive_number(params["high_freq_factor"], "high_freq_factor", where);
    r.original_max_position_embeddings = required_int(params, "original_max_position_embeddings", where);
  }
  return r;
}

}  // namespace

ModelConfig ModelConfig::load(const fs::path& dir_or_file) {
  const fs::path path = fs::is_directory(dir_or_file) ? dir_or_file / "config.json" : dir_or_file;
  if (!fs::exists(path)) fail(path.string(), "not found");
  return from_json(read_json_file(path), path.string());
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "config is not a JSON object");
  ModelConfig c;
  c.raw = j;
  if (!j.contains("model_type") || !j["model_type"].is_string()) fail(where, "missing required key 'model_type'");
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type == kHybridModelType) {
    // An exported hybrid names its parent decoder separately (see to_json).
    if (!j.contains("parent_model_type") || !j["parent_model_type"].is_string())
      fail(where, "model_type '{}' needs 'parent_model_type' (llama or qwen2)", kHybridModelType);
    c.model_type = j["parent_model_type"].get<std::string>();
    if (c.model_type != "llama" && c.model_type != "qwen2")
      fail(where, "unknown parent_model_type '{}' (supported: llama, qwen2)", c.model_type);
  } else if (c.model_type != "llama" && c.model_type != "qwen2") {
    fail(where, "unknown model_type '{}' (supported: llama, qwen2, {})", c.model_type, kHybridModelType);
  }
  try {
    c.hidden_size = required_int(j, "hidden_size", where);
    c.intermediate_size = required_int(j, "intermediate_size", where);
    c.num_layers = required_int(j, "num_hidden_layers", where);
    c.num_heads = required_int(j, "num_attention_heads", where);
    c.vocab_size = required_int(j, "vocab_size", where);
    c.num_kv_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                         ? required_int(j, "num_key_value_heads", where) : c.num_heads;
    // head_dim is optional; heads x head_dim may differ from hidden_size when present.
    c.head_dim = j.contains("head_dim") && !j["head_dim"].is_null() ? required_int(j, "head_dim", where)
                                                                    : c.hidden_size / c.num_heads;
    if (!j.contains("head_dim") && c.hidden_size % c.num_heads)
      fail(where, "hidden_size {} is not divisible by num_attention_heads {}", c.hidden_size, c.num_heads);
    if (c.num_heads % c.num_kv_heads)
      fail(where, "num_attention_heads {} is not divisible by num_key_value_heads {}", c.num_heads, c.num_kv_heads);
    if (j.contains("max_position_embeddings") && !j["max_position_embeddings"].is_null())
      c.max_position_embeddings = required_int(j, "max_position_embeddings", where);
    if (j.contains("rms_norm_eps")) c.rms_norm_eps = positive_number(j["rms_norm_eps"], "rms_norm_eps", where);
    c.rope = parse_rope(j, where);
    c.tie_word_embeddings = j.value("tie_word_embeddings", false);
    c.attention_bias = c.model_type == "qwen2" ? true : j.value("attention_bias", false);
    c.mlp_bias = j.value("mlp_bias", false);
    if (j.contains("hidden_act") && j["hidden_act"] != "silu")
      fail(where, "hidden_act '{}' is not supported (only silu)", j["hidden_act"].dump());
    // dtype: transformers 5 writes `dtype`, earlier versions `torch_dtype`.
    std::string dt = "float32";
    if (j.contains("dtype") && j["dtype"].is_string()) dt = j["dtype"];
    else if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) dt = j["torch_dtype"];
    if (dt != "float32" && dt != "bfloat16" && dt != "float16") fail(where, "unsupported dtype '{}'", dt);
    c.dtype = dt;
    if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"].get<int64_t>();
    if (j.contains("eos_token_id")) {
      const json& e = j["eos_token_id"];
      if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int64_t>());
      if (e.is_array())
        for (const auto& x : e) c.eos_token_ids.push_back(x.get<int64_t>());
    }
    // Hybrid models: layer_types says which layers are linear; linear_attention holds settings.
    c.layer_types.assign(c.num_layers, kFullAttention);
    if (j.contains("layer_types") && j["layer_types"].is_array()) {
      if (static_cast<int64_t>(j["layer_types"].size()) != c.num_layers)
        fail(where, "layer_types has {} entries for {} layers", j["layer_types"].size(), c.num_layers);
      for (int64_t i = 0; i < c.num_layers; ++i) {
        std::string t = j["layer_types"][i].get<std::string>();
        if (t == "sliding_attention") t = kFullAttention;  // window unused by these families
        if (t != kFullAttention && t != kLinearAttention)
          fail(where, "layer_types[{}] = '{}' (expected full_attention or linear_attention)", i, t);
        c.layer_types[i] = t;
      }
    }
    if (j.contains("linear_attention")) c.linear = j["linear_attention"];
    if (c.num_linear_layers() > 0 && !c.linear.is_object())
      fail(where, "layer_types has linear_attention layers but no 'linear_attention' settings");
  } catch (const nlohmann::json::exception& e) {
    fail(where, "malformed value: {}", e.what());
  }
  return c;
}

json ModelConfig::to_json() const {
  json j = raw;
  j["layer_types"] = layer_types;
  for (const char* k : {"linear_attention", "parent_model_type", "auto_map"}) j.erase(k);
  if (num_linear_layers() == 0) {
    if (j.value("model_type", "") == kHybridModelType)  // every linear layer gone: the parent again
      j["architectures"] = {model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"};
    j["model_type"] = model_type;
    return j;
  }
  // A hybrid gets names of its own, so that no library loads it as its parent and silently drops
  // the linear layers; transformers runs it through the modeling code shipped beside the weights
  // (python/hybridize_hf, written by hf_code.h's write_hf_code). The parent's q/k/v biases are
  // written out, since the parent's model_type no longer implies them.
  j["model_type"] = kHybridModelType;
  j["parent_model_type"] = model_type;
  j["architectures"] = {kHybridArchitecture};
  j["attention_bias"] = attention_bias;
  j["auto_map"] = {{"AutoConfig", "configuration_hybridize.HybridizeConfig"},
                   {"AutoModel", "modeling_hybridize.HybridizeModel"},
                   {"AutoModelForCausalLM", "modeling_hybridize.HybridizeForCausalLM"}};
  j["linear_attention"] = linear;
  return j;
}

int64_t ModelConfig::num_linear_layers() const {
  int64_t n = 0;
  for (const auto& t : layer_types) n += t == kLinearAttention;
  return n;
}

}  // namespace hyb
