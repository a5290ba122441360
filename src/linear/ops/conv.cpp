// ops/conv: causal depthwise convolution over time, static (GDN's short convolutions, taps
// [C,W]) or dynamic (JetBlock, one kernel per token, taps [B,T,C,W]), with the W-1 previous
// inputs carried in a cache so that prefill-then-decode equals one pass. The fast form and its
// naive twin live side by side: both are short.
//   y_t[c] = sum_{w<W} x_{t-W+1+w}[c] * taps_t[c, w]      (x_{<0} from the cache, else 0)
#include "linear/ops/ops.h"

namespace hyb::ops {

namespace {

// [cache ; x]: the W-1 inputs before x followed by x, [B, W-1+T, C].
at::Tensor with_history(const at::Tensor& x, const at::Tensor& cache, int64_t W) {
  const int64_t B = x.size(0), C = x.size(2);
  auto past = cache.defined() ? cache.to(x.scalar_type()) : at::zeros({B, W - 1, C}, x.options());
  TORCH_CHECK(past.size(0) == B && past.size(1) == W - 1 && past.size(2) == C,
              "causal_conv: cache shape does not match the input");
  return at::cat({past, x}, 1);
}

// Tap w of the kernels: [C] (static) or [B,T,C] (dynamic), broadcastable against [B,T,C].
at::Tensor tap(const at::Tensor& taps, int64_t w) { return taps.select(-1, w); }

}  // namespace

// Fast form: W shifted views of the padded input, each scaled by one tap and summed.
Conv causal_conv(const at::Tensor& x, const at::Tensor& taps, const at::Tensor& cache) {
  const int64_t T = x.size(1), W = taps.size(-1);
  auto xp = with_history(x, cache, W);
  auto y = xp.narrow(1, 0, T) * tap(taps, 0);
  for (int64_t w = 1; w < W; ++w) y = y + xp.narrow(1, w, T) * tap(taps, w);
  return {y.to(x.scalar_type()), xp.narrow(1, T, W - 1).clone()};
}

// Naive form: for each token, the window of the W inputs ending at it, times its kernel.
Conv causal_conv_naive(const at::Tensor& x, const at::Tensor& taps, const at::Tensor& cache) {
  const int64_t T = x.size(1), W = taps.size(-1);
  const bool dynamic = taps.dim() == 4;
  auto xp = with_history(x, cache, W);
  std::vector<at::Tensor> out;
  out.reserve(T);
  for (int64_t t = 0; t < T; ++t) {
    auto window = xp.narrow(1, t, W);                              // [B,W,C], x_{t-W+1..t}
    auto kernel = dynamic ? taps.select(1, t) : taps;              // [B,C,W] or [C,W]
    out.push_back((window.transpose(1, 2) * kernel).sum(-1));      // [B,C]
  }
  return {at::stack(out, 1).to(x.scalar_type()), xp.narrow(1, T, W - 1).clone()};
}

}  // namespace hyb::ops
