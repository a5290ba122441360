// ops/dispatch: which implementation runs the chunked forms; the seam between the ops and the
// fused CUDA kernels of ops/cuda/. gla_chunk and gated_delta_chunk ask try_fused_* first: it runs
// the fused kernels when they apply (a CUDA build, bf16 activations on a CUDA device, head dims the
// kernels have, chunks of 64, kernels() == kFused) and returns nothing otherwise, so that the
// LibTorch chunked form (the CPU path and the reference) runs. Both are differentiable.
#pragma once
#include <c10/util/Optional.h>

#include <string>
#include <vector>

#include "linear/ops/ops.h"

namespace hyb::ops {

enum class Kernels { kFused, kReference };
// Process-wide choice (kFused by default); `--kernels fused|reference` on the CLI sets it.
void set_kernels(Kernels k);
Kernels kernels();
// "fused" or "reference"; throws hyb::Error naming `flag` otherwise.
Kernels parse_kernels(const std::string& name, const std::string& flag = "--kernels");
// Whether this build has the fused kernels at all (a CUDA build).
bool fused_kernels_built();
// Whether the chunked forms of activations of this device and dtype run the fused kernels (before
// the per-call checks of head dims and chunk size). What distill.json's "linear_kernels" reports.
bool fused_kernels_apply(c10::Device device, c10::ScalarType dtype);

c10::optional<Recurrence> try_fused_gla_chunk(const at::Tensor& q, const at::Tensor& k,
                                              const at::Tensor& v, const at::Tensor& gk,
                                              double scale, const at::Tensor& h0, int64_t chunk);
c10::optional<Recurrence> try_fused_gated_delta_chunk(const at::Tensor& q, const at::Tensor& k,
                                                      const at::Tensor& v, const at::Tensor& g,
                                                      const at::Tensor& beta, double scale,
                                                      const at::Tensor& h0, int64_t chunk);

// ---- The fused decoding step (cuda/step_kernels.h) ------------------------------------------------
// A linear module's one-token forward from its input projections to the input of W_o (the
// convolutions, gates, L2 norms, the state update in place, the readout and the gated RMSNorm) in
// two launches instead of dozens of small ops. Applies to fp32 or bf16 activations on a CUDA
// device with head dims 64 or 128 when kernels() == kFused; elsewhere the module runs its
// LibTorch step (the reference the kernels are tested against).
bool fused_step_applies(const at::Tensor& x, int64_t head_dim);

// This token's projections are [B,1,n] in the activation dtype; parameters of any float dtype.
struct GlaStepInputs {
  at::Tensor q, k, v;     // [B,1,H*d], [B,1,Hk*d], [B,1,Hk*d]
  at::Tensor gk_raw;      // [B,1,Hk*d]: the forget gate before logsigmoid / normalizer
  at::Tensor gate;        // [B,1,H*d]: the output gate before silu
  at::Tensor norm_w;      // [d]
  int64_t heads = 0, kv_heads = 0;
  double normalizer = 16.0, eps = 1e-6, scale = 1.0;
  at::Tensor state;       // the cache's [B,Hk,d,d] fp32, updated in place
};
struct GatedDeltaStepInputs {
  bool jet = false;                // JetBlock: SiLU on q, k; dynamic convolution on v
  at::Tensor q, k, v;              // [B,1,H*d] before convolution and SiLU
  at::Tensor q_taps, k_taps;       // GDN: [H*d,W]
  at::Tensor v_taps;               // GDN: [H*d,W]; JetBlock: [B,1,H*d*W], this token's kernels
  std::vector<at::Tensor> conv;    // the cache's convolution inputs [B,W-1,H*d], updated in place
  at::Tensor a_raw, b_raw;         // [B,1,H]: decay and beta gates before their activations
  at::Tensor A_log, dt_bias;       // [H]
  at::Tensor gate, norm_w;         // [B,1,H*d], [d]
  int64_t heads = 0;
  double eps = 1e-6, scale = 1.0;
  at::Tensor state;                // the cache's [B,H,d,d] fp32, updated in place
};
// y [B,1,H*d] in the activation dtype (what goes into W_o). Call only where fused_step_applies.
at::Tensor fused_gla_step(const GlaStepInputs& in);
at::Tensor fused_gated_delta_step(const GatedDeltaStepInputs& in);

}  // namespace hyb::ops
