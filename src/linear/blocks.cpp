// linear/blocks: what GLA, GDN and JetBlock share: the form dispatch of LinearMixer::forward,
// the cache (LinearCache, sizes before allocation), the output norm, initialisers and the checks
// on the parent attention's weights.
#include "linear/blocks.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/ranges.h>

#include <cmath>

#include "util/error.h"

namespace hyb {

// ---- LinearMixer: form dispatch and cache ------------------------------------------------------

at::Tensor LinearMixer::forward(const at::Tensor& x, MixerCache* cache, LinearForm form) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == s_.hidden_size && x.size(1) > 0,
              "linear mixer: expected x [B,T,", s_.hidden_size, "], got ", x.sizes());
  LinearCache* lc = nullptr;
  if (cache) {
    lc = dynamic_cast<LinearCache*>(cache);
    TORCH_CHECK(lc, "linear mixer: the cache was not made by a linear mixer");
    TORCH_CHECK(lc->state.size(0) == x.size(0), "linear mixer: cache batch ", lc->state.size(0),
                " != input batch ", x.size(0));
  }
  const int64_t T = x.size(1);
  if (form == LinearForm::kAuto) form = lc && T == 1 ? LinearForm::kStep : LinearForm::kChunked;
  if (form != LinearForm::kStep || T == 1) return mix(x, lc, form);

  // One decoding step per token, on the caller's cache or on a fresh one.
  std::unique_ptr<MixerCache> own;
  if (!lc) {
    own = make_cache(x.size(0), T, x.scalar_type(), x.device());
    lc = static_cast<LinearCache*>(own.get());
  }
  std::vector<at::Tensor> out;
  out.reserve(T);
  for (int64_t t = 0; t < T; ++t) out.push_back(mix(x.narrow(1, t, 1), lc, LinearForm::kStep));
  return at::cat(out, 1);
}

namespace {
at::ScalarType state_dtype(at::ScalarType dtype) {
  return dtype == at::kDouble ? at::kDouble : at::kFloat;  // states in fp32 for 16-bit activations
}
}  // namespace

int64_t LinearMixer::cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const {
  const auto L = cache_layout();
  int64_t bytes = batch * L.state_heads * L.dk * L.dv *
                  static_cast<int64_t>(c10::elementSize(state_dtype(dtype)));
  for (int64_t c : L.conv_channels)
    bytes += batch * L.conv_rows * c * static_cast<int64_t>(c10::elementSize(dtype));
  return bytes;  // independent of max_len: the state does not grow
}

std::unique_ptr<MixerCache> LinearMixer::make_cache(int64_t batch, int64_t max_len,
                                                    at::ScalarType dtype,
                                                    at::Device device) const {
  const auto L = cache_layout();
  auto cache = std::make_unique<LinearCache>();
  auto opts = at::TensorOptions().device(device);
  cache->state = at::zeros({batch, L.state_heads, L.dk, L.dv}, opts.dtype(state_dtype(dtype)));
  for (int64_t c : L.conv_channels)
    cache->conv.push_back(at::zeros({batch, L.conv_rows, c}, opts.dtype(dtype)));
  return cache;
}

int64_t LinearCache::bytes() const {
  int64_t n = state.defined() ? state.numel() * static_cast<int64_t>(state.element_size()) : 0;
  for (const auto& c : conv) n += c.numel() * static_cast<int64_t>(c.element_size());
  return n;
}

void LinearCache::copy_row(int64_t dst_row, const MixerCache& src, int64_t src_row) {
  const auto* s = dynamic_cast<const LinearCache*>(&src);
  TORCH_CHECK(s && s->conv.size() == conv.size(), "LinearCache::copy_row: incompatible cache");
  at::NoGradGuard no_grad;
  state.select(0, dst_row).copy_(s->state.select(0, src_row));
  for (size_t i = 0; i < conv.size(); ++i)
    conv[i].select(0, dst_row).copy_(s->conv[i].select(0, src_row));
}

void LinearCache::reset() {
  at::NoGradGuard no_grad;
  state = state.detach().zero_();
  for (auto& c : conv) c = c.detach().zero_();
}

namespace linear {

// ---- Output norm, L2 norm ----------------------------------------------------------------------

at::Tensor gated_rms_norm(const at::Tensor& o, const at::Tensor& gate, const at::Tensor& w,
                          double eps) {
  auto g = gate.to(o.scalar_type());
  return o * at::rsqrt(o.pow(2).mean(-1, /*keepdim=*/true) + eps) * w.to(o.scalar_type()) *
         at::silu(g);
}

at::Tensor l2_normalize(const at::Tensor& x) {
  return x * at::rsqrt(x.pow(2).sum(-1, /*keepdim=*/true) + 1e-6);
}

// ---- Initialisers ------------------------------------------------------------------------------

Init::Init(uint64_t seed) : gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

at::Tensor Init::normal(at::IntArrayRef shape, double std) {
  return at::randn(shape, gen_, at::TensorOptions().dtype(at::kFloat)) * std;
}

at::Tensor Init::uniform(at::IntArrayRef shape, double lo, double hi) {
  return at::rand(shape, gen_, at::TensorOptions().dtype(at::kFloat)) * (hi - lo) + lo;
}

at::Tensor Init::A_log(int64_t heads) {
  return uniform({heads}, 0.0, 16.0).clamp_min(1e-6).log();
}

at::Tensor Init::dt_bias(int64_t heads) {
  auto dt = (uniform({heads}, 0.0, 1.0) * (std::log(0.1) - std::log(1e-3)) + std::log(1e-3))
                .exp()
                .clamp_min(1e-4);
  return dt + at::log(-at::expm1(-dt));  // softplus(dt_bias) = dt
}

at::Tensor identity_taps(int64_t channels, int64_t width) {
  auto w = at::zeros({channels, 1, width}, at::kFloat);
  w.select(2, width - 1).fill_(1.0);
  return w;
}

at::Tensor repeat_kv_rows(const at::Tensor& w, int64_t kv_heads, int64_t groups) {
  auto rest = w.sizes().slice(1).vec();
  std::vector<int64_t> grouped{kv_heads, 1, w.size(0) / kv_heads};
  grouped.insert(grouped.end(), rest.begin(), rest.end());
  auto expanded = grouped;
  expanded[1] = groups;
  std::vector<int64_t> out{w.size(0) * groups};
  out.insert(out.end(), rest.begin(), rest.end());
  return w.reshape(grouped).expand(expanded).reshape(out);
}

// ---- Parent attention --------------------------------------------------------------------------

void check_parent(const LinearSettings& s, const AttentionWeights& p) {
  const std::string where = "parent attention";
  if (p.hidden_size != s.hidden_size || p.num_heads != s.num_heads ||
      p.num_kv_heads != s.num_kv_heads || p.head_dim != s.head_dim)
    fail(where, "sizes (D={}, H={}, Hkv={}, d={}) differ from the linear settings "
         "(D={}, H={}, Hkv={}, d={})", p.hidden_size, p.num_heads, p.num_kv_heads, p.head_dim,
         s.hidden_size, s.num_heads, s.num_kv_heads, s.head_dim);
  const int64_t D = s.hidden_size, q_dim = s.num_heads * s.head_dim;
  const int64_t kv_dim = s.num_kv_heads * s.head_dim;
  auto expect = [&](const at::Tensor& t, const char* name, std::vector<int64_t> shape) {
    if (!t.defined()) fail(where, "{} is missing", name);
    if (t.sizes().vec() != shape)
      fail(where, "{} has shape {}, expected {}", name, fmt::join(t.sizes().vec(), "x"),
           fmt::join(shape, "x"));
  };
  expect(p.wq, "W_q", {q_dim, D});
  expect(p.wk, "W_k", {kv_dim, D});
  expect(p.wv, "W_v", {kv_dim, D});
  expect(p.wo, "W_o", {D, q_dim});
  if (s.qkv_bias) {
    expect(p.bq, "b_q", {q_dim});
    expect(p.bk, "b_k", {kv_dim});
    expect(p.bv, "b_v", {kv_dim});
  }
}

at::Tensor own_copy(const at::Tensor& w) {
  return w.detach().to(w.device(), at::kFloat, /*non_blocking=*/false, /*copy=*/true);
}

void move_parameters(Module& m, at::Device device) {
  for (auto& [name, p] : m.parameters()) *p = p->to(device);
}

void list_projection(ParamList& out, const std::string& name, at::Tensor& w, at::Tensor& b) {
  out.emplace_back(name + ".weight", &w);
  if (b.defined()) out.emplace_back(name + ".bias", &b);
}

void list_output(ParamList& out, const std::string& prefix, at::Tensor& gate_w, at::Tensor& norm_w,
                 at::Tensor& o_w) {
  out.emplace_back(prefix + "g_proj.weight", &gate_w);
  out.emplace_back(prefix + "o_norm.weight", &norm_w);
  out.emplace_back(prefix + "o_proj.weight", &o_w);
}

}  // namespace linear
}  // namespace hyb
