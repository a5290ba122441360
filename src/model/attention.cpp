// Causal GQA attention:  q = x W_q^T (+b_q), k, v likewise at kv width; RoPE on q, k;
//   o_t = softmax(q_t K_{<=t}^T / sqrt(d)) V_{<=t};  y = concat_heads(o) W_o^T.
// Query head h reads kv head h / (H/Hkv) (HF's repeat_kv order). Without a cache the sequence
// starts at position 0; with one, the new keys are written at each row's length and every query
// sees the keys up to its own position.
#include "model/attention.h"

#include "util/torch_compat.h"

namespace hyb {

int64_t KVCache::bytes() const {
  return (k.defined() ? k.numel() * k.element_size() : 0) + (v.defined() ? v.numel() * v.element_size() : 0);
}

void KVCache::copy_row(int64_t dst, const MixerCache& src_base, int64_t src_row) {
  const auto& src = dynamic_cast<const KVCache&>(src_base);
  const int64_t n = src.lengths.at(src_row);
  TORCH_CHECK(n <= k.size(2), "KV cache row of ", n, " tokens does not fit ", k.size(2));
  k[dst].narrow(1, 0, n).copy_(src.k[src_row].narrow(1, 0, n));
  v[dst].narrow(1, 0, n).copy_(src.v[src_row].narrow(1, 0, n));
  lengths.at(dst) = n;
}

void KVCache::reset() { std::fill(lengths.begin(), lengths.end(), 0); }

// KV caches just forget what lies beyond a length (later writes overwrite it, masks hide it).
bool KVCache::rewind(int64_t row, int64_t length) {
  lengths.at(row) = std::min(lengths.at(row), length);
  return true;
}

bool KVCache::can_gather(const MixerCache& src) const { return dynamic_cast<const KVCache*>(&src) != nullptr; }

void KVCache::gather_rows(const MixerCache& src_base, const std::vector<int64_t>& rows) {
  const auto& from = dynamic_cast<const KVCache&>(src_base);
  const int64_t n = std::min(from.k.size(2), k.size(2));
  const at::Tensor idx = at::tensor(rows, at::kLong).to(from.k.device());
  k.narrow(2, 0, n).copy_(from.k.index_select(0, idx).narrow(2, 0, n));
  v.narrow(2, 0, n).copy_(from.v.index_select(0, idx).narrow(2, 0, n));
  for (size_t r = 0; r < rows.size(); ++r) lengths[r] = from.lengths.at(rows[r]);
}

void KVCache::fill_random(int64_t length, at::Generator& gen) {
  k.narrow(2, 0, length).normal_(0, 1, gen);
  v.narrow(2, 0, length).normal_(0, 1, gen);
  std::fill(lengths.begin(), lengths.end(), length);
}

int64_t Attention::cache_bytes(int64_t batch, int64_t max_len, at::ScalarType dtype) const {
  return 2 * batch * w_.num_kv_heads * max_len * w_.head_dim * static_cast<int64_t>(c10::elementSize(dtype));
}

std::unique_ptr<MixerCache> Attention::make_cache(int64_t batch, int64_t max_len, at::ScalarType dtype,
                                                  at::Device device) const {
  auto c = std::make_unique<KVCache>();
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  c->k = at::zeros({batch, w_.num_kv_heads, max_len, w_.head_dim}, opts);
  c->v = at::zeros({batch, w_.num_kv_heads, max_len, w_.head_dim}, opts);
  c->lengths.assign(batch, 0);
  return c;
}

void Attention::named_parameters(const std::string& p, ParamList& out) {
  out.emplace_back(p + "q_proj.weight", &w_.wq);
  out.emplace_back(p + "k_proj.weight", &w_.wk);
  out.emplace_back(p + "v_proj.weight", &w_.wv);
  out.emplace_back(p + "o_proj.weight", &w_.wo);
  if (w_.bq.defined()) out.emplace_back(p + "q_proj.bias", &w_.bq);
  if (w_.bk.defined()) out.emplace_back(p + "k_proj.bias", &w_.bk);
  if (w_.bv.defined()) out.emplace_back(p + "v_proj.bias", &w_.bv);
}

at::Tensor Attention::forward(const at::Tensor& x, const Positions& pos, MixerCache* cache_base) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = w_.num_heads, Hkv = w_.num_kv_heads, d = w_.head_dim, rep = H / Hkv;

  // Projections, [B,T,H*d] -> [B,H,T,d].
  auto q = proj(x, w_.wq, w_.bq).view({B, T, H, d}).transpose(1, 2);
  auto k = proj(x, w_.wk, w_.bk).view({B, T, Hkv, d}).transpose(1, 2);
  auto v = proj(x, w_.wv, w_.bv).view({B, T, Hkv, d}).transpose(1, 2);
  auto [cos, sin] = rope_.cos_sin(pos.pos);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);

  // Keys and values visible to this call: the cache's (after appending), or just these.
  // mask: additive [T,L] or [B,1,T,L], or undefined with `causal` (every row starts at position 0,
  // so L == T and query t sees keys j <= t: SDPA's own causal mask, the flash path, needs no mask).
  at::Tensor keys = k, values = v, mask;
  bool causal = false;
  int64_t L = T;
  if (cache_base && pos.static_mask.defined()) {
    // Decoding step with fixed shapes: row b writes its key at pos[b]; the mask hides the rest.
    auto& c = dynamic_cast<KVCache&>(*cache_base);
    TORCH_CHECK(T == 1, "static-shape decoding takes one token per row");
    auto rows = at::arange(B, pos.pos.options());
    auto at_pos = pos.pos.select(1, 0);
    using at::indexing::Slice;
    c.k.index_put_({rows, Slice(), at_pos}, k.select(2, 0));
    c.v.index_put_({rows, Slice(), at_pos}, v.select(2, 0));
    keys = c.k;
    values = c.v;
    L = c.k.size(2);
    mask = pos.static_mask;
  } else if (cache_base) {
    auto& c = dynamic_cast<KVCache&>(*cache_base);
    const int64_t first = c.lengths[0];
    const bool same = std::all_of(c.lengths.begin(), c.lengths.end(), [&](int64_t n) { return n == first; });
    TORCH_CHECK(*std::max_element(c.lengths.begin(), c.lengths.end()) + T <= c.k.size(2),
                "KV cache full: ", c.k.size(2), " positions");
    if (same) {
      c.k.narrow(2, first, T).copy_(k);
      c.v.narrow(2, first, T).copy_(v);
    } else {
      for (int64_t b = 0; b < B; ++b) {
        c.k[b].narrow(1, c.lengths[b], T).copy_(k[b]);
        c.v[b].narrow(1, c.lengths[b], T).copy_(v[b]);
      }
    }
    L = *std::max_element(c.lengths.begin(), c.lengths.end()) + T;
    keys = c.k.narrow(2, 0, L);
    values = c.v.narrow(2, 0, L);
    if (same && first == 0 && T > 1) {
      causal = true;  // a prompt's first chunk
    } else if (same && T > 1) {
      // All rows at the same length: one [T, L] mask shared by the batch (query t sees j <= first + t).
      auto qi = at::arange(T, x.options().dtype(at::kLong)).view({T, 1}) + first;
      auto kj = at::arange(L, x.options().dtype(at::kLong)).view({1, L});
      mask = at::zeros({T, L}, x.options().dtype(at::kFloat))
                 .masked_fill_(kj > qi, -std::numeric_limits<float>::infinity());
    } else if (!same) {
      // Query t of row b (absolute index len_b + t) sees keys j <= len_b + t.
      auto len = at::tensor(c.lengths, at::kLong).to(x.device()).view({B, 1, 1});
      auto qi = at::arange(T, x.options().dtype(at::kLong)).view({1, T, 1}) + len;
      auto kj = at::arange(L, x.options().dtype(at::kLong)).view({1, 1, L});
      mask = at::zeros({B, T, L}, x.options().dtype(at::kFloat))
                 .masked_fill_(kj > qi, -std::numeric_limits<float>::infinity())
                 .unsqueeze(1);
    }
    for (auto& n : c.lengths) n += T;
  } else if (T > 1) {
    causal = true;
  }

  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  if (compat::kHasSdpa && x.is_cuda() && T > 1) {
    // Prefill on a GPU: the fused kernel never materialises the [T, L] scores (at 64K context
    // they would not fit); a causal call (no mask) reads the grouped K/V heads in place.
    auto o = compat::sdpa(q, keys, values, mask, scale, causal);
    return proj(o.transpose(1, 2).reshape({B, T, H * d}), w_.wo);
  }
  if (causal) mask = at::full({T, T}, -std::numeric_limits<float>::infinity(), x.options().dtype(at::kFloat)).triu(1);

  // softmax(q k^T * d^-1/2 + mask) v with kv heads shared by `rep` query heads: q is viewed as
  // [B,Hkv,rep*T,d] so K and V are never copied per query head.
  auto qg = q.reshape({B, Hkv, rep * T, d});
  auto scores = at::matmul(qg, keys.transpose(-2, -1)).to(at::kFloat).mul_(scale);  // [B,Hkv,rep*T,L]
  if (mask.defined()) {
    auto s5 = scores.view({B, Hkv, rep, T, L});
    s5.add_(mask.dim() == 2 ? mask.view({1, 1, 1, T, L}) : mask.view({B, 1, 1, T, L}));
  }
  auto probs = at::softmax(scores, -1).to(x.scalar_type());
  auto o = at::matmul(probs, values).view({B, H, T, d});  // [B,Hkv,rep*T,d] -> [B,H,T,d]
  o = o.transpose(1, 2).reshape({B, T, H * d});
  return proj(o, w_.wo);
}

}  // namespace hyb
