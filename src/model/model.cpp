#include "model/model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <set>

#include "io/hf_code.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/attention.h"
#include "util/device.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

at::Tensor ids_tensor(const std::vector<std::vector<int32_t>>& seqs, at::Device device) {
  const int64_t n = static_cast<int64_t>(seqs.size()), T = static_cast<int64_t>(seqs.at(0).size());
  at::Tensor ids = at::empty({n, T}, at::kLong);
  auto* p = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < T; ++t) p[i * T + t] = seqs[i][t];
  return ids.to(device);
}

at::Tensor Mlp::forward(const at::Tensor& x) const {
  return proj(at::silu(proj(x, gate)) * proj(x, up), down);
}

// --------------------------------------------------------------------------------------------
// Cache

int64_t ModelCache::bytes() const { return kv_bytes() + state_bytes(); }

int64_t ModelCache::kv_bytes() const {
  int64_t n = 0;
  for (const auto& c : layers)
    if (c->keeps_positions()) n += c->bytes();
  return n;
}

int64_t ModelCache::state_bytes() const {
  int64_t n = 0;
  for (const auto& c : layers)
    if (!c->keeps_positions()) n += c->bytes();
  return n;
}

void ModelCache::copy_row(int64_t dst, const ModelCache& src, int64_t src_row) {
  for (size_t l = 0; l < layers.size(); ++l) layers[l]->copy_row(dst, *src.layers[l], src_row);
  lengths.at(dst) = src.lengths.at(src_row);
}

// --------------------------------------------------------------------------------------------
// Loading

namespace {

// Every tensor a config implies, with its shape, in HF names. Linear layers' tensors come from
// their module (the names it lists), so only attention layers are listed here.
struct Expected {
  std::string name;
  std::vector<int64_t> shape;
};

std::vector<Expected> expected_tensors(const ModelConfig& c) {
  const int64_t D = c.hidden_size, I = c.intermediate_size, H = c.num_heads, Hkv = c.num_kv_heads,
                d = c.head_dim, V = c.vocab_size;
  std::vector<Expected> e;
  e.push_back({"model.embed_tokens.weight", {V, D}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    e.push_back({p + "input_layernorm.weight", {D}});
    e.push_back({p + "post_attention_layernorm.weight", {D}});
    e.push_back({p + "mlp.gate_proj.weight", {I, D}});
    e.push_back({p + "mlp.up_proj.weight", {I, D}});
    e.push_back({p + "mlp.down_proj.weight", {D, I}});
    if (c.is_linear(l)) continue;
    e.push_back({p + "self_attn.q_proj.weight", {H * d, D}});
    e.push_back({p + "self_attn.k_proj.weight", {Hkv * d, D}});
    e.push_back({p + "self_attn.v_proj.weight", {Hkv * d, D}});
    e.push_back({p + "self_attn.o_proj.weight", {D, H * d}});
    if (c.attention_bias) {
      e.push_back({p + "self_attn.q_proj.bias", {H * d}});
      e.push_back({p + "self_attn.k_proj.bias", {Hkv * d}});
      e.push_back({p + "self_attn.v_proj.bias", {Hkv * d}});
    }
  }
  e.push_back({"model.norm.weight", {D}});
  if (!c.tie_word_embeddings) e.push_back({"lm_head.weight", {V, D}});
  return e;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

std::unique_ptr<CausalLM> CausalLM::load(const fs::path& dir, const LoadOptions& opt) {
  if (!fs::is_directory(dir)) fail(dir.string(), "model directory not found");
  std::unique_ptr<CausalLM> m(new CausalLM());
  m->cfg_ = ModelConfig::load(dir);
  const ModelConfig& c = m->cfg_;
  WeightStore store = WeightStore::open_dir(dir);

  at::ScalarType dtype = opt.dtype;
  if (dtype == at::ScalarType::Undefined)
    dtype = opt.device.is_cuda() ? parse_dtype(c.dtype, "config.json") : at::kFloat;

  std::set<std::string> used;
  // Fetches a tensor, checked against its expected shape, in the compute dtype on the device.
  // Zero-copy when dtype and device already match (a view of the mapped file).
  auto check = [&](const std::string& name, const std::vector<int64_t>& shape) {
    if (!store.has(name)) fail(dir.string(), "missing tensor '{}'", name);
    const TensorEntry& e = store.entry(name);
    if (e.dtype != "F32" && e.dtype != "BF16" && e.dtype != "F16")
      fail(e.file.string(), "tensor '{}' has dtype {} (expected F32, BF16 or F16)", name, e.dtype);
    if (e.shape != shape)
      fail(e.file.string(), "tensor '{}' has shape {}, the config implies {}", name, shape_str(e.shape), shape_str(shape));
  };
  auto get = [&](const std::string& name, const std::vector<int64_t>& shape) {
    check(name, shape);
    used.insert(name);
    at::Tensor t = store.tensor(name);
    if (t.scalar_type() != dtype || t.device() != opt.device) t = t.to(opt.device, dtype);
    return t;
  };
  for (const auto& e : expected_tensors(c)) check(e.name, e.shape);  // validate all before building

  const int64_t D = c.hidden_size, I = c.intermediate_size, H = c.num_heads, Hkv = c.num_kv_heads,
                d = c.head_dim, V = c.vocab_size;
  m->rope_ = Rope::make(c.rope, d);
  m->embed_ = get("model.embed_tokens.weight", {V, D});
  m->final_norm_ = get("model.norm.weight", {D});
  m->lm_head_ = c.tie_word_embeddings ? m->embed_ : get("lm_head.weight", {V, D});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = layer_prefix(l);
    DecoderLayer layer;
    layer.input_norm = get(p + "input_layernorm.weight", {D});
    layer.post_norm = get(p + "post_attention_layernorm.weight", {D});
    layer.mlp.gate = get(p + "mlp.gate_proj.weight", {I, D});
    layer.mlp.up = get(p + "mlp.up_proj.weight", {I, D});
    layer.mlp.down = get(p + "mlp.down_proj.weight", {D, I});
    if (c.is_linear(l)) {
      // A distilled linear module: built from the settings, then every tensor it lists loaded.
      auto settings = LinearSettings::from_json(c.linear, (dir / "config.json").string());
      layer.mixer = build_linear_module(settings, l, [&](const std::string& name, const std::vector<int64_t>& shape) {
        if (!store.has(name)) fail(dir.string(), "missing tensor '{}' of linear layer {}", name, l);
        return get(name, shape);
      });
    } else {
      AttentionWeights w;
      w.hidden_size = D, w.num_heads = H, w.num_kv_heads = Hkv, w.head_dim = d;
      w.wq = get(p + "self_attn.q_proj.weight", {H * d, D});
      w.wk = get(p + "self_attn.k_proj.weight", {Hkv * d, D});
      w.wv = get(p + "self_attn.v_proj.weight", {Hkv * d, D});
      w.wo = get(p + "self_attn.o_proj.weight", {D, H * d});
      if (c.attention_bias) {
        w.bq = get(p + "self_attn.q_proj.bias", {H * d});
        w.bk = get(p + "self_attn.k_proj.bias", {Hkv * d});
        w.bv = get(p + "self_attn.v_proj.bias", {Hkv * d});
      }
      layer.mixer = std::make_unique<Attention>(std::move(w), m->rope_);
    }
    m->layers_.push_back(std::move(layer));
  }
  // Nothing may be left over (a tied head saved anyway, and old rotary buffers, are tolerated).
  for (const auto& name : store.names()) {
    if (used.count(name)) continue;
    if (name == "lm_head.weight" && c.tie_word_embeddings) continue;
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
    fail(store.entry(name).file.string(), "unexpected tensor '{}' (not part of a {} model with this config)", name,
         c.model_type);
  }
  return m;
}

std::unique_ptr<CausalLM> CausalLM::random(const ModelConfig& c, uint64_t seed, at::ScalarType dtype,
                                           at::Device device) {
  std::unique_ptr<CausalLM> m(new CausalLM());
  m->cfg_ = c;
  m->cfg_.dtype = dtype_name(dtype);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto opts = at::TensorOptions().dtype(at::kFloat);
  if (device.is_cuda()) at::manual_seed(seed);
  auto normal = [&](std::vector<int64_t> shape) {
    if (device.is_cuda()) return at::empty(shape, opts.dtype(dtype).device(device)).normal_(0.0, 0.02);
    return at::normal(0.0, 0.02, shape, gen, opts).to(dtype);
  };
  auto ones = [&](int64_t n) { return at::ones({n}, opts.dtype(dtype).device(device)); };
  const int64_t D = c.hidden_size, I = c.intermediate_size, H = c.num_heads, Hkv = c.num_kv_heads,
                d = c.head_dim, V = c.vocab_size;
  m->rope_ = Rope::make(c.rope, d);
  m->embed_ = normal({V, D});
  m->final_norm_ = ones(D);
  m->lm_head_ = c.tie_word_embeddings ? m->embed_ : normal({V, D});
  // Linear layers of a hybrid config get freshly initialised modules (their own seeded init). A
  // config built in code may leave layer_types empty: all full attention.
  if (m->cfg_.layer_types.size() != static_cast<size_t>(c.num_layers))
    m->cfg_.layer_types.assign(c.num_layers, kFullAttention);
  const bool hybrid = m->cfg_.num_linear_layers() > 0;
  const LinearSettings linear = hybrid ? LinearSettings::from_json(c.linear, "config linear_attention") : LinearSettings{};
  for (int64_t l = 0; l < c.num_layers; ++l) {
    DecoderLayer layer;
    layer.input_norm = ones(D);
    layer.post_norm = ones(D);
    layer.mlp = Mlp{normal({I, D}), normal({I, D}), normal({D, I})};
    if (m->cfg_.is_linear(l)) {
      layer.mixer = make_linear_mixer(linear, seed + static_cast<uint64_t>(l));
      for (auto& [name, t] : layer.mixer->parameters("")) *t = t->to(device, dtype);
      m->layers_.push_back(std::move(layer));
      continue;
    }
    AttentionWeights w;
    w.hidden_size = D, w.num_heads = H, w.num_kv_heads = Hkv, w.head_dim = d;
    w.wq = normal({H * d, D});
    w.wk = normal({Hkv * d, D});
    w.wv = normal({Hkv * d, D});
    w.wo = normal({D, H * d});
    if (c.attention_bias) w.bq = normal({H * d}), w.bk = normal({Hkv * d}), w.bv = normal({Hkv * d});
    layer.mixer = std::make_unique<Attention>(std::move(w), m->rope_);
    m->layers_.push_back(std::move(layer));
  }
  return m;
}

std::unique_ptr<TokenMixer> CausalLM::set_mixer(int64_t l, std::unique_ptr<TokenMixer> mixer,
                                                const nlohmann::json& settings) {
  const bool linear = mixer->kind() != kFullAttention;
  std::swap(layers_.at(l).mixer, mixer);
  cfg_.layer_types.at(l) = linear ? kLinearAttention : kFullAttention;
  if (linear && !settings.is_null()) cfg_.linear = settings;
  return mixer;
}

const AttentionWeights& CausalLM::attention_weights(int64_t l) const {
  auto* a = dynamic_cast<const Attention*>(layers_.at(l).mixer.get());
  if (!a) fail("layer " + std::to_string(l), "is not a full-attention layer");
  return a->weights();
}

// --------------------------------------------------------------------------------------------
// Forward

at::Tensor CausalLM::embed(const at::Tensor& ids) const { return embed_.index_select(0, ids.reshape(-1)).view({ids.size(0), ids.size(1), -1}); }

Positions CausalLM::positions(int64_t B, int64_t T, const ModelCache* cache) const {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device());
  auto steps = at::arange(T, opts).unsqueeze(0);  // [1,T]
  if (!cache) return Positions{steps.expand({B, T}), 0};
  auto start = at::tensor(cache->lengths, at::kLong).to(device()).view({B, 1});
  const bool same = std::all_of(cache->lengths.begin(), cache->lengths.end(),
                                [&](int64_t n) { return n == cache->lengths[0]; });
  return Positions{steps + start, same ? cache->lengths[0] : -1};
}

at::Tensor CausalLM::layer_forward(int64_t l, const at::Tensor& h, const Positions& pos, ModelCache* cache,
                                   const MixerHook& hook) {
  DecoderLayer& L = layers_.at(l);
  auto x = rms_norm(h, L.input_norm, cfg_.rms_norm_eps);
  auto mixed = L.mixer->forward(x, pos, cache ? cache->layers.at(l).get() : nullptr);
  if (hook) hook(l, x, mixed);
  auto r = h + mixed;
  return r + L.mlp.forward(rms_norm(r, L.post_norm, cfg_.rms_norm_eps));
}

at::Tensor CausalLM::run_layers(at::Tensor h, int64_t from, int64_t to, const Positions& pos, ModelCache* cache,
                                const MixerHook& hook) {
  for (int64_t l = from; l < to; ++l) h = layer_forward(l, h, pos, cache, hook);
  return h;
}

at::Tensor CausalLM::logits(const at::Tensor& h) const {
  // A tied head reads embed_ itself: training may rebind that slot to a new tensor.
  return proj(rms_norm(h, final_norm_, cfg_.rms_norm_eps), cfg_.tie_word_embeddings ? embed_ : lm_head_).to(at::kFloat);
}

at::Tensor CausalLM::forward(const at::Tensor& ids, ModelCache* cache, const MixerHook& hook) {
  const int64_t B = ids.size(0), T = ids.size(1);
  auto pos = positions(B, T, cache);
  auto h = run_layers(embed(ids.to(device())), 0, num_layers(), pos, cache, hook);
  if (cache)
    for (auto& n : cache->lengths) n += T;
  return logits(h);
}

at::Tensor CausalLM::prefill(const at::Tensor& ids, ModelCache& cache, int64_t chunk) {
  const int64_t B = ids.size(0), T = ids.size(1);
  TORCH_CHECK(T > 0, "prefill: no tokens");
  if (chunk <= 0) chunk = default_prefill_chunk(device(), T);
  at::Tensor last;
  for (int64_t s = 0; s < T; s += chunk) {
    const int64_t n = std::min(chunk, T - s);
    auto pos = positions(B, n, &cache);
    auto h = run_layers(embed(ids.narrow(1, s, n).to(device())), 0, num_layers(), pos, &cache);
    for (auto& len : cache.lengths) len += n;
    if (s + n == T) last = logits(h.narrow(1, n - 1, 1)).select(1, 0);
  }
  return last;
}

int64_t CausalLM::default_prefill_chunk(at::Device device, int64_t tokens) {
  return device.is_cuda() ? std::max<int64_t>(tokens, 1) : 2048;
}

int64_t CausalLM::cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const {
  int64_t n = 0;
  for (const auto& L : layers_) n += L.mixer->cache_bytes(batch, max_len, dtype);
  return n;
}

std::unique_ptr<ModelCache> CausalLM::make_cache(int64_t batch, int64_t max_len) const {
  auto c = std::make_unique<ModelCache>();
  for (const auto& L : layers_) c->layers.push_back(L.mixer->make_cache(batch, max_len, dtype(), device()));
  c->lengths.assign(batch, 0);
  c->max_len = max_len;
  return c;
}

// --------------------------------------------------------------------------------------------
// Parameters and saving

void CausalLM::named_parameters(const std::string& p, ParamList& out) {
  out.emplace_back(p + "model.embed_tokens.weight", &embed_);
  for (int64_t l = 0; l < num_layers(); ++l) {
    const std::string lp = p + layer_prefix(l);
    DecoderLayer& L = layers_[l];
    out.emplace_back(lp + "input_layernorm.weight", &L.input_norm);
    L.mixer->named_parameters(p + (cfg_.is_linear(l) ? linear_prefix(l) : attention_prefix(l)), out);
    out.emplace_back(lp + "post_attention_layernorm.weight", &L.post_norm);
    out.emplace_back(lp + "mlp.gate_proj.weight", &L.mlp.gate);
    out.emplace_back(lp + "mlp.up_proj.weight", &L.mlp.up);
    out.emplace_back(lp + "mlp.down_proj.weight", &L.mlp.down);
  }
  out.emplace_back(p + "model.norm.weight", &final_norm_);
  if (!cfg_.tie_word_embeddings) out.emplace_back(p + "lm_head.weight", &lm_head_);
}

int64_t CausalLM::num_parameters() {
  int64_t n = 0;
  for (auto& [name, t] : parameters()) n += t->numel();
  return n;
}

void CausalLM::save(const fs::path& dir) {
  fs::create_directories(dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : parameters()) tensors.emplace_back(name, *t);
  save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  ModelConfig c = cfg_;
  nlohmann::json j = c.to_json();
  j["dtype"] = dtype_name(dtype());
  j.erase("torch_dtype");
  write_file_atomic(dir / "config.json", j.dump(2) + "\n");
  if (c.num_linear_layers() > 0) write_hf_code(dir);  // its config names the code (auto_map)
}

}  // namespace hyb
