// linear/gla: Gated Linear Attention as a token mixer (cf. fla/layers/gla.py), with
// dk = dv = d and the parent's head layout: H query heads, Hkv kv heads (GQA-native).
//   q = W_q x [B,T,H,d]        k = W_k x, v = W_v x [B,T,Hkv,d]   (+ biases for Qwen2)
//   gk = logsigmoid(W_2 W_1 x + b_2) / 16 [B,T,Hkv,d]             low-rank forget gate, log space
//   S_t = diag(exp(gk_t)) S_{t-1} + k_t^T v_t,  o_t = d^-1/2 q_t S_t    (per kv head; a query head
//        reads the state of its group, as if k, v and gk were repeated like HF repeat_kv)
//   y = W_o [ RMSNorm_d(o) * w * swish(W_g x) ]
#include "linear/blocks.h"
#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"

#include <cmath>

namespace hyb::linear {
namespace {

class GLA final : public LinearMixer {
 public:
  GLA(const LinearSettings& s, const AttentionWeights* parent, uint64_t seed)
      : LinearMixer(s), D_(s.hidden_size), H_(s.num_heads), Hk_(s.num_kv_heads), d_(s.head_dim) {
    Init init(seed);
    const int64_t r = s.gate_low_rank, q_dim = H_ * d_, kv_dim = Hk_ * d_;
    // Fresh parts, as fla initialises them: weights N(0, 0.02), biases 0, norm weight 1.
    gk1_w_ = init.normal({r, D_}, 0.02);
    gk2_w_ = init.normal({kv_dim, r}, 0.02);
    gk2_b_ = at::zeros({kv_dim});
    g_w_ = init.normal({q_dim, D_}, 0.02);
    norm_w_ = at::ones({d_});
    if (parent) {  // GQA-native: every shape matches the parent's
      q_w_ = own_copy(parent->wq), k_w_ = own_copy(parent->wk), v_w_ = own_copy(parent->wv);
      o_w_ = own_copy(parent->wo);
      if (s.qkv_bias)
        q_b_ = own_copy(parent->bq), k_b_ = own_copy(parent->bk), v_b_ = own_copy(parent->bv);
    } else {
      q_w_ = init.normal({q_dim, D_}, 0.02), k_w_ = init.normal({kv_dim, D_}, 0.02);
      v_w_ = init.normal({kv_dim, D_}, 0.02), o_w_ = init.normal({D_, q_dim}, 0.02);
      if (s.qkv_bias)
        q_b_ = at::zeros({q_dim}), k_b_ = at::zeros({kv_dim}), v_b_ = at::zeros({kv_dim});
    }
    if (parent) move_parameters(*this, parent->wq.device());
  }

  void named_parameters(const std::string& prefix, ParamList& out) override {
    list_projection(out, prefix + "q_proj", q_w_, q_b_);
    list_projection(out, prefix + "k_proj", k_w_, k_b_);
    list_projection(out, prefix + "v_proj", v_w_, v_b_);
    out.emplace_back(prefix + "gk_proj.0.weight", &gk1_w_);
    out.emplace_back(prefix + "gk_proj.1.weight", &gk2_w_);
    out.emplace_back(prefix + "gk_proj.1.bias", &gk2_b_);
    list_output(out, prefix, g_w_, norm_w_, o_w_);
  }

  CacheLayout cache_layout() const override { return {Hk_, d_, d_, {}, 0}; }

 protected:
  at::Tensor mix(const at::Tensor& x, LinearCache* cache, LinearForm form) override {
    if (form == LinearForm::kStep && cache && ops::fused_step_applies(x, d_))
      return fused_step(x, *cache);
    const int64_t B = x.size(0), T = x.size(1);
    const auto ct = ops::compute_dtype(x);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_));

    auto q = at::linear(x, q_w_, q_b_).view({B, T, H_, d_});
    auto k = at::linear(x, k_w_, k_b_).view({B, T, Hk_, d_});
    auto v = at::linear(x, v_w_, v_b_).view({B, T, Hk_, d_});
    auto gk = at::log_sigmoid(at::linear(at::linear(x, gk1_w_), gk2_w_, gk2_b_).to(ct)) /
              s_.gate_logit_normalizer;
    gk = gk.view({B, T, Hk_, d_});

    const at::Tensor h0 = cache ? cache->state : at::Tensor();
    ops::Recurrence r;
    if (form == LinearForm::kNaive) r = ops::gla_naive(q, k, v, gk, scale, h0);
    else if (form == LinearForm::kStep) r = ops::gla_step(q, k, v, gk, scale, h0);
    else r = ops::gla_chunk(q, k, v, gk, scale, h0, s_.chunk_size);
    if (cache) cache->state.copy_(r.state);  // in place: CUDA graphs replay fixed addresses

    auto gate = at::linear(x, g_w_).view({B, T, H_, d_});
    auto o = gated_rms_norm(r.o, gate, norm_w_, s_.norm_eps).to(x.scalar_type());
    return at::linear(o.reshape({B, T, H_ * d_}), o_w_);
  }

 private:
  // The decoding step with everything after the input projections in the fused kernels (the
  // same math as mix's kStep path, which is their reference).
  at::Tensor fused_step(const at::Tensor& x, LinearCache& cache) {
    ops::GlaStepInputs in;
    in.q = at::linear(x, q_w_, q_b_), in.k = at::linear(x, k_w_, k_b_), in.v = at::linear(x, v_w_, v_b_);
    in.gk_raw = at::linear(at::linear(x, gk1_w_), gk2_w_, gk2_b_);
    in.gate = at::linear(x, g_w_), in.norm_w = norm_w_;
    in.heads = H_, in.kv_heads = Hk_;
    in.normalizer = s_.gate_logit_normalizer, in.eps = s_.norm_eps;
    in.scale = 1.0 / std::sqrt(static_cast<double>(d_));
    in.state = cache.state;
    return at::linear(ops::fused_gla_step(in), o_w_);
  }

  int64_t D_, H_, Hk_, d_;
  at::Tensor q_w_, q_b_, k_w_, k_b_, v_w_, v_b_;  // projections (biases only with qkv_bias)
  at::Tensor gk1_w_, gk2_w_, gk2_b_;              // forget gate D -> r -> Hkv*d
  at::Tensor g_w_, norm_w_, o_w_;                 // output gate, per-head norm weight, W_o
};

}  // namespace

std::unique_ptr<LinearMixer> new_gla(const LinearSettings& s, const AttentionWeights* parent,
                                     uint64_t seed) {
  return std::make_unique<GLA>(s, parent, seed);
}

}  // namespace hyb::linear
