#include "model/blocks.h"

#include <cmath>

namespace hyb {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  // HF LlamaRMSNorm: variance in fp32, x * rsqrt(var + eps), cast to input dtype, times weight.
  auto xf = x.to(at::kFloat);
  auto var = xf.pow(2).mean(-1, /*keepdim=*/true);
  auto y = (xf * at::rsqrt(var + eps)).to(x.scalar_type());
  return w * y;
}

at::Tensor proj(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

Rope Rope::make(const RopeConfig& cfg, int64_t d) {
  // inv_freq_i = theta^(-2i/d), i = 0..d/2-1 (HF computes the exponent in fp32).
  auto idx = at::arange(0, d, 2, at::kLong).to(at::kFloat) / static_cast<float>(d);
  auto inv = 1.0 / at::pow(at::scalar_tensor(cfg.theta, at::kFloat), idx);
  if (cfg.type == "llama3") {
    // Llama 3.1 scaling: long wavelengths divided by `factor`, short ones kept, a smooth
    // interpolation in between (transformers' _compute_llama3_parameters).
    const double old_ctx = static_cast<double>(cfg.original_max_position_embeddings);
    const double low_wavelen = old_ctx / cfg.low_freq_factor;
    const double high_wavelen = old_ctx / cfg.high_freq_factor;
    auto wavelen = 2 * M_PI / inv;
    auto scaled = at::where(wavelen > low_wavelen, inv / cfg.factor, inv);
    auto smooth = (old_ctx / wavelen - cfg.low_freq_factor) / (cfg.high_freq_factor - cfg.low_freq_factor);
    auto smoothed = (1 - smooth) * scaled / cfg.factor + smooth * scaled;
    auto medium = at::logical_not(wavelen < high_wavelen).logical_and(at::logical_not(wavelen > low_wavelen));
    inv = at::where(medium, smoothed, scaled);
  }
  return Rope{inv.to(at::kFloat)};
}

std::pair<at::Tensor, at::Tensor> Rope::cos_sin(const at::Tensor& pos) const {
  // freqs[b,t,i] = pos[b,t] * inv_freq[i]; emb = [freqs, freqs] (HF's half-split layout).
  if (inv_freq.device() != pos.device()) inv_freq = inv_freq.to(pos.device());
  auto freqs = pos.to(at::kFloat).unsqueeze(-1) * inv_freq;
  auto emb = at::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  // rotate_half(x) = [-x2, x1] for x = [x1, x2] split at d/2.
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto rot = at::cat({-x2, x1}, -1);
  auto c = cos.unsqueeze(1).to(x.scalar_type()), s = sin.unsqueeze(1).to(x.scalar_type());
  return x * c + rot * s;
}

}  // namespace hyb
