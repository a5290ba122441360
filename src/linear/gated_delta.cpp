// linear/gated_delta: Gated DeltaNet (cf. fla/layers/gated_deltanet.py) and JetBlock (cf.
// Jet-Nemotron jet_block.py, a copy of the GDN layer with two changes), as token mixers with H
// heads of d = dk = dv (expand_v 1). Not GQA-native: k and v have H heads, and an init from the
// parent attention repeats W_k and W_v rows per group.
//   GDN: q, k, v = SiLU(conv4(W x))                    causal depthwise short convolutions
//   Jet: q, k    = SiLU(W x)                           no convolution on q, k
//        v       = SiLU(dconv4(W_v x; kernels(x)))     kernels_t = W_2 SiLU(W_1 x_t) + b_2
//                                                    (one [H*d, 4] kernel per token)
//   q, k  L2-normalised per head;  b = sigmoid(W_b x);  g = -exp(A_log) softplus(W_a x + dt_bias)
//   S_t = exp(g_t) (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,   o_t = d^-1/2 S_t^T q_t
//   y = W_o [ RMSNorm_d(o) * w * silu(W_g x) ]
#include "linear/blocks.h"
#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"

#include <cmath>

namespace hyb::linear {
namespace {

constexpr int64_t kGeneratorReduction = 8;  // JetBlock: kernel generator width value_dim / 8

class GatedDelta final : public LinearMixer {
 public:
  GatedDelta(const LinearSettings& s, const AttentionWeights* parent, uint64_t seed)
      : LinearMixer(s), jet_(s.kind == "jet"), D_(s.hidden_size), H_(s.num_heads),
        d_(s.head_dim), W_(s.conv_size) {
    Init init(seed);
    const int64_t dim = H_ * d_;  // key_dim = value_dim
    // Fresh parts, as fla initialises them: weights N(0, 0.02), A_log and dt_bias per fla.
    a_w_ = init.normal({H_, D_}, 0.02);
    b_w_ = init.normal({H_, D_}, 0.02);
    A_log_ = init.A_log(H_);
    dt_bias_ = init.dt_bias(H_);
    g_w_ = init.normal({dim, D_}, 0.02);
    norm_w_ = at::ones({d_});
    if (jet_) {
      // Kernel generator. Jet zeroes W_1 and W_2 and draws b_2 ~ N(0, 0.02): the conv starts
      // static with taps b_2, but with W_1 = W_2 = 0 neither weight ever gets a gradient. We draw
      // W_1 ~ N(0, 0.02) and zero W_2 (as LoRA does with B): the generated kernel is exactly b_2
      // at the start, and W_2's gradient (through SiLU(W_1 x) != 0) lets it become dynamic.
      // From the parent, b_2 holds the identity taps (last tap 1), so v starts as SiLU(W_v x).
      gen1_w_ = init.normal({dim / kGeneratorReduction, D_}, 0.02);
      gen2_w_ = at::zeros({dim * W_, dim / kGeneratorReduction});
      gen2_b_ = parent ? identity_taps(dim, W_).view({dim * W_}) : init.normal({dim * W_}, 0.02);
    } else {
      for (auto* w : {&q_conv_, &k_conv_, &v_conv_})
        *w = parent ? identity_taps(dim, W_) : init.normal({dim, 1, W_}, 0.02);
    }
    if (parent) {
      const int64_t Hk = s.num_kv_heads, G = s.num_groups();
      q_w_ = own_copy(parent->wq), o_w_ = own_copy(parent->wo);
      k_w_ = repeat_kv_rows(own_copy(parent->wk), Hk, G);
      v_w_ = repeat_kv_rows(own_copy(parent->wv), Hk, G);
      if (s.qkv_bias) {
        q_b_ = own_copy(parent->bq);
        k_b_ = repeat_kv_rows(own_copy(parent->bk), Hk, G);
        v_b_ = repeat_kv_rows(own_copy(parent->bv), Hk, G);
      }
      move_parameters(*this, parent->wq.device());
    } else {
      q_w_ = init.normal({dim, D_}, 0.02), k_w_ = init.normal({dim, D_}, 0.02);
      v_w_ = init.normal({dim, D_}, 0.02), o_w_ = init.normal({D_, dim}, 0.02);
      if (s.qkv_bias) q_b_ = at::zeros({dim}), k_b_ = at::zeros({dim}), v_b_ = at::zeros({dim});
    }
  }

  void named_parameters(const std::string& prefix, ParamList& out) override {
    list_projection(out, prefix + "q_proj", q_w_, q_b_);
    list_projection(out, prefix + "k_proj", k_w_, k_b_);
    list_projection(out, prefix + "v_proj", v_w_, v_b_);
    if (jet_) {
      out.emplace_back(prefix + "v_conv.generator.w1.weight", &gen1_w_);
      out.emplace_back(prefix + "v_conv.generator.w2.weight", &gen2_w_);
      out.emplace_back(prefix + "v_conv.generator.w2.bias", &gen2_b_);
    } else {
      out.emplace_back(prefix + "q_conv.weight", &q_conv_);
      out.emplace_back(prefix + "k_conv.weight", &k_conv_);
      out.emplace_back(prefix + "v_conv.weight", &v_conv_);
    }
    out.emplace_back(prefix + "a_proj.weight", &a_w_);
    out.emplace_back(prefix + "b_proj.weight", &b_w_);
    out.emplace_back(prefix + "A_log", &A_log_);
    out.emplace_back(prefix + "dt_bias", &dt_bias_);
    list_output(out, prefix, g_w_, norm_w_, o_w_);
  }

  CacheLayout cache_layout() const override {
    const int64_t dim = H_ * d_;
    return {H_, d_, d_, jet_ ? std::vector<int64_t>{dim} : std::vector<int64_t>{dim, dim, dim},
            W_ - 1};
  }

 protected:
  at::Tensor mix(const at::Tensor& x, LinearCache* cache, LinearForm form) override {
    if (form == LinearForm::kStep && cache && ops::fused_step_applies(x, d_))
      return fused_step(x, *cache);
    const int64_t B = x.size(0), T = x.size(1), dim = H_ * d_;
    const auto ct = ops::compute_dtype(x);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_));

    // Causal convolution i of the cache (q, k, v for GDN; v for Jet), then SiLU.
    auto conv = [&](size_t i, const at::Tensor& in, const at::Tensor& taps) {
      const at::Tensor past = cache ? cache->conv[i] : at::Tensor();
      auto c = form == LinearForm::kNaive ? ops::causal_conv_naive(in, taps, past)
                                          : ops::causal_conv(in, taps, past);
      if (cache) cache->conv[i].copy_(c.cache);  // in place: CUDA graphs replay fixed addresses
      return at::silu(c.y);
    };
    auto q = at::linear(x, q_w_, q_b_), k = at::linear(x, k_w_, k_b_);
    auto v = at::linear(x, v_w_, v_b_);
    if (jet_) {
      q = at::silu(q), k = at::silu(k);
      auto kernels = at::linear(at::silu(at::linear(x, gen1_w_)), gen2_w_, gen2_b_);
      v = conv(0, v, kernels.view({B, T, dim, W_}));  // flat index c*W + w, as Jet's (d w)
    } else {
      q = conv(0, q, q_conv_.view({dim, W_}));
      k = conv(1, k, k_conv_.view({dim, W_}));
      v = conv(2, v, v_conv_.view({dim, W_}));
    }
    q = l2_normalize(q.view({B, T, H_, d_}).to(ct));
    k = l2_normalize(k.view({B, T, H_, d_}).to(ct));
    v = v.view({B, T, H_, d_});

    auto beta = at::sigmoid(at::linear(x, b_w_).to(ct));                          // [B,T,H]
    auto g = -A_log_.to(ct).exp() * at::softplus(at::linear(x, a_w_).to(ct) + dt_bias_.to(ct));

    const at::Tensor h0 = cache ? cache->state : at::Tensor();
    ops::Recurrence r;
    if (form == LinearForm::kNaive) r = ops::gated_delta_naive(q, k, v, g, beta, scale, h0);
    else if (form == LinearForm::kStep) r = ops::gated_delta_step(q, k, v, g, beta, scale, h0);
    else r = ops::gated_delta_chunk(q, k, v, g, beta, scale, h0, s_.chunk_size);
    if (cache) cache->state.copy_(r.state);  // in place: CUDA graphs replay fixed addresses

    auto gate = at::linear(x, g_w_).view({B, T, H_, d_});
    auto o = gated_rms_norm(r.o, gate, norm_w_, s_.norm_eps).to(x.scalar_type());
    return at::linear(o.reshape({B, T, dim}), o_w_);
  }

 private:
  // The decoding step with everything after the input projections in the fused kernels (the
  // same math as mix's kStep path, which is their reference).
  at::Tensor fused_step(const at::Tensor& x, LinearCache& cache) {
    ops::GatedDeltaStepInputs in;
    in.jet = jet_;
    in.q = at::linear(x, q_w_, q_b_), in.k = at::linear(x, k_w_, k_b_), in.v = at::linear(x, v_w_, v_b_);
    if (jet_) {
      in.v_taps = at::linear(at::silu(at::linear(x, gen1_w_)), gen2_w_, gen2_b_);
    } else {
      in.q_taps = q_conv_, in.k_taps = k_conv_, in.v_taps = v_conv_;
    }
    in.conv = cache.conv;
    in.a_raw = at::linear(x, a_w_), in.b_raw = at::linear(x, b_w_);
    in.A_log = A_log_, in.dt_bias = dt_bias_;
    in.gate = at::linear(x, g_w_), in.norm_w = norm_w_;
    in.heads = H_, in.eps = s_.norm_eps, in.scale = 1.0 / std::sqrt(static_cast<double>(d_));
    in.state = cache.state;
    return at::linear(ops::fused_gated_delta_step(in), o_w_);
  }

  bool jet_;
  int64_t D_, H_, d_, W_;
  at::Tensor q_w_, q_b_, k_w_, k_b_, v_w_, v_b_;  // projections (biases only with qkv_bias)
  at::Tensor q_conv_, k_conv_, v_conv_;           // GDN short convolutions [H*d,1,W]
  at::Tensor gen1_w_, gen2_w_, gen2_b_;           // Jet kernel generator D -> H*d/8 -> H*d*W
  at::Tensor a_w_, b_w_, A_log_, dt_bias_;        // decay and beta gates
  at::Tensor g_w_, norm_w_, o_w_;                 // output gate, per-head norm weight, W_o
};

}  // namespace

std::unique_ptr<LinearMixer> new_gated_delta(const LinearSettings& s,
                                             const AttentionWeights* parent, uint64_t seed) {
  return std::make_unique<GatedDelta>(s, parent, seed);
}

}  // namespace hyb::linear
