// Helpers for the linear-module tests: small settings, modules with every parameter perturbed
// (so that no path is hidden by a zero init), dtype casts, and the error measure we report:
//   rel_err(a, ref) = max|a - ref| / max|ref|   (computed in fp64)
#pragma once
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "linear/linear.h"

namespace hyb::test {

inline double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  auto r = ref.to(at::kDouble);
  double scale = r.abs().max().item<double>();
  return (a.to(at::kDouble) - r).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

inline at::Generator generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

inline at::Tensor randn(at::IntArrayRef shape, at::Generator& gen,
                        at::ScalarType dtype = at::kFloat) {
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

// D=32, H=4, Hkv=2, d=8: GQA groups of 2, two chunks of 16 within a chunk of 64.
inline LinearSettings small_settings(const std::string& kind, bool qkv_bias = true) {
  LinearSettings s;
  s.kind = kind;
  s.hidden_size = 32, s.num_heads = 4, s.num_kv_heads = 2, s.head_dim = 8;
  s.qkv_bias = qkv_bias;
  return s;
}

inline void cast_parameters(Module& m, at::ScalarType dtype) {
  for (auto& [name, p] : m.parameters()) *p = p->to(dtype);
}

// make_linear_mixer + every parameter moved by N(0, std^2): biases, zero-initialised generator
// weights and identity parts all become generic. Same seed -> same module.
inline std::unique_ptr<LinearMixer> perturbed_module(const LinearSettings& s, uint64_t seed,
                                                     at::ScalarType dtype = at::kFloat,
                                                     double std = 0.3) {
  std::unique_ptr<LinearMixer> m(dynamic_cast<LinearMixer*>(make_linear_mixer(s, seed).release()));
  auto gen = generator(seed + 1000);
  for (auto& [name, p] : m->parameters()) *p = (*p + randn(p->sizes(), gen) * std).to(dtype);
  return m;
}

inline LinearCache& as_linear(MixerCache& c) { return dynamic_cast<LinearCache&>(c); }

// A cache of `batch` rows holding a random state and random conv history (the same values in
// every dtype asked for, for a given seed).
inline std::unique_ptr<MixerCache> random_cache(const LinearMixer& m, int64_t batch,
                                                at::ScalarType dtype, uint64_t seed) {
  auto cache = m.make_cache(batch, 0, dtype, at::kCPU);
  auto& c = as_linear(*cache);
  auto gen = generator(seed);
  c.state = randn(c.state.sizes(), gen, c.state.scalar_type()) * 0.5;
  for (auto& t : c.conv) t = randn(t.sizes(), gen, t.scalar_type());
  return cache;
}

}  // namespace hyb::test
