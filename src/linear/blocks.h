// linear/blocks: parts the linear modules share (internal to linear/): the gated output norm,
// the L2 norm of q and k, initialisers driven by a local seeded generator, checks and copies of
// the parent attention's weights, and the module constructors the factories call.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "linear/linear.h"

namespace hyb::linear {

// y = o / sqrt(mean(o^2) + eps) * w * silu(gate), over the last dim (per head), in o's dtype
// (the ops' compute dtype).
at::Tensor gated_rms_norm(const at::Tensor& o, const at::Tensor& gate, const at::Tensor& w,
                          double eps);
// x / sqrt(sum(x^2) + 1e-6) over the last dim (fla's l2norm).
at::Tensor l2_normalize(const at::Tensor& x);

// Random initialisers on one generator seeded locally (no global seed is touched). All fp32, CPU.
class Init {
 public:
  explicit Init(uint64_t seed);
  at::Tensor normal(at::IntArrayRef shape, double std);
  at::Tensor uniform(at::IntArrayRef shape, double lo, double hi);
  // fla's Gated DeltaNet gate parameters, per head: A ~ U(0,16), A_log = log A; and
  // dt ~ logU(1e-3, 1e-1) (>= 1e-4), dt_bias = softplus^-1(dt) = dt + log(-expm1(-dt)).
  at::Tensor A_log(int64_t heads);
  at::Tensor dt_bias(int64_t heads);

 private:
  at::Generator gen_;
};

// A depthwise convolution that passes its input through: [C,1,W], last tap 1, others 0.
at::Tensor identity_taps(int64_t channels, int64_t width);
// Rows of a kv projection [Hkv*d, ...] repeated per group, in Hugging Face repeat_kv order:
// [Hkv*G*d, ...], head h = j*G + g holds kv head j.
at::Tensor repeat_kv_rows(const at::Tensor& w, int64_t kv_heads, int64_t groups);
// The parent's sizes and tensors fit the settings (else hyb::Error).
void check_parent(const LinearSettings& s, const AttentionWeights& parent);
// An fp32 copy of a parent tensor, owned by the module.
at::Tensor own_copy(const at::Tensor& w);
// Moves every parameter to `device`.
void move_parameters(Module& m, at::Device device);
// Lists a projection's parameters as "<name>.weight" and, where defined, "<name>.bias" (the
// parent attention's names, so that a module's file reads like the layer it replaced).
void list_projection(ParamList& out, const std::string& name, at::Tensor& w, at::Tensor& b);
// Lists the output path every module shares, in this order: g_proj.weight (the gate of the
// gated RMSNorm), o_norm.weight, o_proj.weight.
void list_output(ParamList& out, const std::string& prefix, at::Tensor& gate_w, at::Tensor& norm_w,
                 at::Tensor& o_w);

// Module constructors (gla.cpp, gated_delta.cpp). parent == nullptr: random init.
std::unique_ptr<LinearMixer> new_gla(const LinearSettings& s, const AttentionWeights* parent,
                                     uint64_t seed);
std::unique_ptr<LinearMixer> new_gated_delta(const LinearSettings& s,
                                             const AttentionWeights* parent, uint64_t seed);

}  // namespace hyb::linear
