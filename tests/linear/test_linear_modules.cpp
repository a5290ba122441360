// linear modules (GLA, GDN, JetBlock): every form against the fp64 naive recurrence, caches
// (prefill then decode, copy_row, sizes), gradients, init from the parent attention, bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "linear_test_util.h"

namespace hyb::test {
namespace {

class LinearModule : public ::testing::TestWithParam<std::string> {};

// fp32 chunked (the module's default forward), fp32 decoding steps and fp64 chunked, against the
// fp64 naive recurrence, with and without a carried state (random state and conv history).
TEST_P(LinearModule, FormsMatchFp64Naive) {
  const auto s = small_settings(GetParam());
  auto m32 = perturbed_module(s, 1), m64 = perturbed_module(s, 1, at::kDouble);
  double worst_chunk = 0, worst_step = 0, worst_chunk64 = 0, worst_state = 0;
  for (int64_t B : {1, 3})
    for (int64_t T : {1, 63, 64, 65, 200})
      for (bool carried : {false, true}) {
        auto gen = generator(10 * T + B);
        auto x64 = randn({B, T, s.hidden_size}, gen, at::kDouble), x32 = x64.to(at::kFloat);
        auto cache = [&](at::ScalarType dt) {
          return carried ? random_cache(*m32, B, dt, 77 + T) : m32->make_cache(B, T, dt, at::kCPU);
        };
        auto c_ref = cache(at::kDouble), c_chunk = cache(at::kFloat), c_step = cache(at::kFloat);
        auto c_chunk64 = cache(at::kDouble);
        auto ref = m64->forward(x64, c_ref.get(), LinearForm::kNaive);
        auto chunk = m32->forward(x32, c_chunk.get(), LinearForm::kChunked);
        auto step = m32->forward(x32, c_step.get(), LinearForm::kStep);
        auto chunk64 = m64->forward(x64, c_chunk64.get(), LinearForm::kChunked);
        ASSERT_EQ(chunk.scalar_type(), at::kFloat);
        ASSERT_EQ(chunk.sizes(), x32.sizes());
        worst_chunk = std::max(worst_chunk, rel_err(chunk, ref));
        worst_step = std::max(worst_step, rel_err(step, ref));
        worst_chunk64 = std::max(worst_chunk64, rel_err(chunk64, ref));
        // The carried state after the call.
        const auto& r = as_linear(*c_ref);
        for (auto* c : {c_chunk.get(), c_step.get()}) {
          worst_state = std::max(worst_state, rel_err(as_linear(*c).state, r.state));
          for (size_t i = 0; i < r.conv.size(); ++i)
            worst_state = std::max(worst_state, rel_err(as_linear(*c).conv[i], r.conv[i]));
        }
        if (!carried) {  // no cache at all == a fresh cache
          auto plain = m32->forward(x32, nullptr, LinearForm::kAuto);
          EXPECT_LT(rel_err(plain, chunk), 1e-6);
        }
      }
  std::printf("%s: max rel err vs fp64 naive: fp32 chunked %.2e, fp32 step %.2e, fp64 chunked "
              "%.2e, fp32 final state %.2e\n", s.kind.c_str(), worst_chunk, worst_step,
              worst_chunk64, worst_state);
  EXPECT_LT(worst_chunk64, 1e-12);
  // fp32 decoding steps accumulate rounding token by token, and the output norm magnifies it in
  // heads whose o is small next to the state: for GDN / Jet the steps reached 8e-6 (LibTorch
  // 1.13) and 1.8e-5 (2.11), as does the fp32 naive recurrence, so 5e-5 there; 1e-5 otherwise.
  EXPECT_LT(worst_chunk, 1e-5);
  EXPECT_LT(worst_step, s.kind == "gla" ? 1e-5 : 5e-5);
  EXPECT_LT(worst_state, 1e-5);
}

// Settings off the defaults: a chunk that is not a multiple of the sub-chunk, convolutions of
// width 1 (no history) and 2, no GQA, one head.
TEST_P(LinearModule, OtherSettingsMatchFp64Naive) {
  for (auto [chunk, conv, H, Hk] : std::vector<std::array<int64_t, 4>>{
           {20, 1, 4, 4}, {24, 2, 4, 1}, {64, 4, 1, 1}}) {
    LinearSettings s = small_settings(GetParam(), false);
    s.chunk_size = chunk, s.conv_size = conv, s.num_heads = H, s.num_kv_heads = Hk;
    auto m32 = perturbed_module(s, 15), m64 = perturbed_module(s, 15, at::kDouble);
    auto gen = generator(16);
    auto x = randn({2, 77, s.hidden_size}, gen, at::kDouble);
    auto c32 = m32->make_cache(2, 0, at::kFloat, at::kCPU);
    auto ref = m64->forward(x, nullptr, LinearForm::kNaive);
    auto x32 = x.to(at::kFloat);
    auto y = at::cat({m32->forward(x32.narrow(1, 0, 70), c32.get(), LinearForm::kAuto),
                      m32->forward(x32.narrow(1, 70, 7), c32.get(), LinearForm::kStep)},
                     1);
    EXPECT_LT(rel_err(y, ref), 1e-5) << "chunk " << chunk << " conv " << conv << " H " << H;
    EXPECT_EQ(m32->cache_bytes(2, 0, at::kFloat), c32->bytes());
  }
}

// Chunked prefill in two pieces, then one decoding step per token == one full forward.
TEST_P(LinearModule, PrefillThenDecodeEqualsFullForward) {
  const auto s = small_settings(GetParam());
  auto m = perturbed_module(s, 2);
  auto gen = generator(3);
  auto x = randn({3, 150, s.hidden_size}, gen);
  auto full = m->forward(x, Positions{}, nullptr);
  auto cache = m->make_cache(3, 150, at::kFloat, at::kCPU);
  std::vector<at::Tensor> parts{m->forward(x.narrow(1, 0, 70), Positions{}, cache.get()),
                                m->forward(x.narrow(1, 70, 30), Positions{}, cache.get())};
  for (int64_t t = 100; t < 150; ++t)
    parts.push_back(m->forward(x.narrow(1, t, 1), Positions{}, cache.get()));
  EXPECT_LT(rel_err(at::cat(parts, 1), full), 1e-5);
}

// Sequences prefilled one by one (different lengths), copied into one batch, decoded together.
TEST_P(LinearModule, CopyRowThenDecodeTogether) {
  const auto s = small_settings(GetParam());
  auto m = perturbed_module(s, 4);
  auto gen = generator(5);
  auto a = randn({1, 37, s.hidden_size}, gen), b = randn({1, 80, s.hidden_size}, gen);
  auto next = randn({2, 4, s.hidden_size}, gen);
  auto ca = m->make_cache(1, 0, at::kFloat, at::kCPU);
  auto cb = m->make_cache(1, 0, at::kFloat, at::kCPU);
  m->forward(a, Positions{}, ca.get());
  m->forward(b, Positions{}, cb.get());
  auto both = m->make_cache(2, 0, at::kFloat, at::kCPU);
  both->copy_row(0, *ca, 0);
  both->copy_row(1, *cb, 0);
  for (int64_t t = 0; t < 4; ++t) {
    auto y = m->forward(next.narrow(1, t, 1), Positions{}, both.get());
    auto ya = m->forward(next.narrow(0, 0, 1).narrow(1, t, 1), Positions{}, ca.get());
    auto yb = m->forward(next.narrow(0, 1, 1).narrow(1, t, 1), Positions{}, cb.get());
    EXPECT_LT(rel_err(y, at::cat({ya, yb}, 0)), 1e-6);
  }
  both->reset();
  EXPECT_EQ(as_linear(*both).state.abs().max().item<double>(), 0.0);
}

TEST_P(LinearModule, CacheBytesMatchAllocation) {
  const auto s = small_settings(GetParam());
  auto m = perturbed_module(s, 6);
  for (auto dtype : {at::kFloat, at::kBFloat16, at::kDouble})
    for (int64_t B : {1, 3}) {
      auto cache = m->make_cache(B, 4096, dtype, at::kCPU);
      EXPECT_EQ(m->cache_bytes(B, 4096, dtype), cache->bytes());
      int64_t allocated = 0;
      const auto& c = as_linear(*cache);
      allocated += c.state.storage().nbytes();
      for (const auto& t : c.conv) allocated += t.storage().nbytes();
      EXPECT_EQ(allocated, cache->bytes());
    }
  // The state does not grow with the sequence: after a forward the size is the same.
  auto cache = m->make_cache(2, 0, at::kFloat, at::kCPU);
  const int64_t before = cache->bytes();
  auto gen = generator(1);
  m->forward(randn({2, 70, s.hidden_size}, gen), Positions{}, cache.get());
  m->forward(randn({2, 1, s.hidden_size}, gen), Positions{}, cache.get());
  EXPECT_EQ(cache->bytes(), before);
  // GLA keeps one state per kv group; GDN and Jet one per head, plus W-1 rows per convolution.
  const int64_t d = s.head_dim, H = s.num_heads, Hk = s.num_kv_heads, W1 = s.conv_size - 1;
  const int64_t want = GetParam() == "gla" ? Hk * d * d * 4
                     : GetParam() == "gdn" ? H * d * d * 4 + 3 * W1 * H * d * 4
                                           : H * d * d * 4 + W1 * H * d * 4;
  EXPECT_EQ(m->cache_bytes(1, 0, at::kFloat), want);
}

// Autograd through the chunked form == central finite differences (fp64) for the input and
// every parameter (sampled entries), and == autograd through the naive form (all entries).
TEST_P(LinearModule, GradientsMatchFiniteDifferences) {
  LinearSettings s = small_settings(GetParam());
  s.hidden_size = 16, s.head_dim = 4, s.chunk_size = 32;  // T = 40: 2 chunks, 4 sub-chunks each
  auto m = perturbed_module(s, 8, at::kDouble);
  auto gen = generator(9);
  auto x = randn({2, 40, s.hidden_size}, gen, at::kDouble);
  auto R = randn({2, 40, s.hidden_size}, gen, at::kDouble);
  auto loss = [&](LinearForm form) { return (m->forward(x, nullptr, form) * R).sum(); };

  auto params = m->parameters();
  std::vector<at::Tensor*> leaves{&x};
  std::vector<std::string> names{"input"};
  for (auto& [n, p] : params) leaves.push_back(p), names.push_back(n);
  auto grads = [&](LinearForm form) {
    for (auto* l : leaves) l->set_requires_grad(true), l->mutable_grad() = at::Tensor();
    loss(form).backward();
    std::vector<at::Tensor> g;
    for (auto* l : leaves) g.push_back(l->grad().clone());
    for (auto* l : leaves) l->set_requires_grad(false);
    return g;
  };
  auto g_chunk = grads(LinearForm::kChunked), g_naive = grads(LinearForm::kNaive);

  at::NoGradGuard no_grad;
  auto pick = generator(10);
  for (size_t i = 0; i < leaves.size(); ++i) {
    ASSERT_TRUE(g_chunk[i].defined()) << names[i];
    EXPECT_LT(rel_err(g_chunk[i], g_naive[i]), 1e-9) << names[i];
    auto flat = leaves[i]->view({-1});
    const int64_t n = flat.numel();
    for (int rep = 0; rep < 3; ++rep) {
      const int64_t j = at::randint(n, {1}, pick).item<int64_t>();
      const double h = 1e-5, x0 = flat[j].item<double>();
      flat[j].fill_(x0 + h);
      const double up = loss(LinearForm::kChunked).item<double>();
      flat[j].fill_(x0 - h);
      const double down = loss(LinearForm::kChunked).item<double>();
      flat[j].fill_(x0);
      const double fd = (up - down) / (2 * h), ad = g_chunk[i].view({-1})[j].item<double>();
      const double scale = std::max(1.0, g_chunk[i].abs().max().item<double>());
      EXPECT_NEAR(ad, fd, 1e-6 * scale) << names[i] << "[" << j << "]";
    }
  }
}

// The parent attention's weights land where they belong, and with the gates forced to "keep
// everything" (no decay; GDN/Jet beta = 1/2) the module computes, from the parent's W_q, W_k,
// W_v, W_o and biases, the linear attention written out below.
TEST_P(LinearModule, InitFromAttentionPlacesParentWeights) {
  LinearSettings s = small_settings(GetParam(), /*qkv_bias=*/true);
  const int64_t D = s.hidden_size, H = s.num_heads, Hk = s.num_kv_heads, d = s.head_dim;
  const int64_t G = H / Hk;
  auto gen = generator(12);
  AttentionWeights p;
  p.hidden_size = D, p.num_heads = H, p.num_kv_heads = Hk, p.head_dim = d;
  p.wq = randn({H * d, D}, gen) * 0.3, p.wk = randn({Hk * d, D}, gen) * 0.3;
  p.wv = randn({Hk * d, D}, gen) * 0.3, p.wo = randn({D, H * d}, gen) * 0.3;
  p.bq = randn({H * d}, gen) * 0.1, p.bk = randn({Hk * d}, gen) * 0.1;
  p.bv = randn({Hk * d}, gen) * 0.1;
  auto mixer = make_linear_mixer_from_attention(s, p, 3);
  auto& m = dynamic_cast<LinearMixer&>(*mixer);
  const std::string prefix = "model.layers.3.linear_attn.";
  std::map<std::string, at::Tensor*> P;
  for (auto& [n, t] : m.parameters(prefix)) {
    ASSERT_EQ(n.rfind(prefix, 0), 0u) << n;
    P[n.substr(prefix.size())] = t;
  }

  const bool gla = GetParam() == "gla";
  // HF repeat_kv on heads (dim `dim` of size Hk): head h <- kv head h / G.
  auto repeat_kv_heads = [&](const at::Tensor& t, int64_t dim) {
    return t.repeat_interleave(G, dim);
  };
  auto repeat = [&](const at::Tensor& w) {  // rows of W_k / W_v (or biases), for GDN and Jet
    if (gla) return w;
    auto rows = repeat_kv_heads(w.view({Hk, d, -1}), 0);
    return w.dim() == 1 ? rows.reshape({H * d}) : rows.reshape({H * d, D});
  };
  EXPECT_TRUE(at::equal(*P["q_proj.weight"], p.wq));
  EXPECT_TRUE(at::equal(*P["q_proj.bias"], p.bq));
  EXPECT_TRUE(at::equal(*P["k_proj.weight"], repeat(p.wk)));
  EXPECT_TRUE(at::equal(*P["k_proj.bias"], repeat(p.bk)));
  EXPECT_TRUE(at::equal(*P["v_proj.weight"], repeat(p.wv)));
  EXPECT_TRUE(at::equal(*P["v_proj.bias"], repeat(p.bv)));
  EXPECT_TRUE(at::equal(*P["o_proj.weight"], p.wo));
  if (!gla) {  // kv head j sits in query heads j*G .. j*G+G-1
    EXPECT_TRUE(at::equal(P["k_proj.weight"]->narrow(0, (G + 1) * d, d), p.wk.narrow(0, d, d)));
  }
  // Identity convolutions (GDN) / an identity kernel from the generator (Jet).
  auto identity = at::zeros({H * d, s.conv_size});
  identity.select(1, s.conv_size - 1).fill_(1.0);
  if (GetParam() == "gdn") {
    for (const char* c : {"q_conv.weight", "k_conv.weight", "v_conv.weight"})
      EXPECT_TRUE(at::equal(P[c]->view({H * d, s.conv_size}), identity)) << c;
  }
  if (GetParam() == "jet") {
    EXPECT_EQ(P["v_conv.generator.w2.weight"]->abs().max().item<double>(), 0.0);
    EXPECT_TRUE(at::equal(P["v_conv.generator.w2.bias"]->view({H * d, s.conv_size}), identity));
  }

  // Force "no decay": GLA gk = logsigmoid(large) / 16 = 0; GDN/Jet A = exp(A_log) = 0, b = 1/2.
  if (gla) {
    P["gk_proj.1.weight"]->zero_();
    P["gk_proj.1.bias"]->fill_(1e4);
  } else {
    P["A_log"]->fill_(-1e4);
    P["b_proj.weight"]->zero_();
  }
  auto x = randn({2, 70, D}, gen);
  auto y = m.forward(x, Positions{}, nullptr);

  // Written out from the parent's weights (fp64).
  auto X = x.to(at::kDouble);
  auto lin = [&](const at::Tensor& w, const at::Tensor& b) {
    return at::linear(X, w.to(at::kDouble), b.to(at::kDouble));
  };
  auto q = lin(p.wq, p.bq).view({2, 70, H, d});
  auto k = repeat_kv_heads(lin(p.wk, p.bk).view({2, 70, Hk, d}), 2);
  auto v = repeat_kv_heads(lin(p.wv, p.bv).view({2, 70, Hk, d}), 2);
  at::Tensor o;
  if (gla) {  // o_t = sum_{s<=t} (q_t . k_s) d^-1/2 v_s
    auto A = at::matmul(q.transpose(1, 2), k.transpose(1, 2).transpose(-1, -2)).tril();
    o = at::matmul(A, v.transpose(1, 2)).transpose(1, 2) / std::sqrt(double(d));
  } else {  // delta rule with a = 1, b = 1/2 on q, k = l2norm(silu(.)), v = silu(.)
    auto unit = [](const at::Tensor& t) { return t / (t.pow(2).sum(-1, true) + 1e-6).sqrt(); };
    q = unit(at::silu(q)), k = unit(at::silu(k)), v = at::silu(v);
    auto S = at::zeros({2, H, d, d}, X.options());
    std::vector<at::Tensor> out;
    for (int64_t t = 0; t < 70; ++t) {
      auto k_t = k.select(1, t), v_t = v.select(1, t);
      auto u = 0.5 * (v_t - at::matmul(k_t.unsqueeze(-2), S).squeeze(-2));
      S = S + k_t.unsqueeze(-1) * u.unsqueeze(-2);
      out.push_back(at::matmul(q.select(1, t).unsqueeze(-2), S).squeeze(-2) / std::sqrt(double(d)));
    }
    o = at::stack(out, 1);
  }
  auto gate = at::linear(X, P["g_proj.weight"]->to(at::kDouble)).view({2, 70, H, d});
  o = o * at::rsqrt(o.pow(2).mean(-1, true) + s.norm_eps) * at::silu(gate);
  auto want = at::linear(o.reshape({2, 70, H * d}), p.wo.to(at::kDouble));
  EXPECT_LT(rel_err(y, want), 1e-5);
}

// bf16 activations and weights: states stay fp32, output bf16, close to the fp64 reference.
TEST_P(LinearModule, Bf16RunsWithFp32States) {
  const auto s = small_settings(GetParam());
  auto m16 = perturbed_module(s, 13, at::kBFloat16), m64 = perturbed_module(s, 13, at::kDouble);
  cast_parameters(*m64, at::kBFloat16);  // the same bf16-rounded weights, in fp64
  cast_parameters(*m64, at::kDouble);
  auto gen = generator(14);
  auto x = randn({2, 100, s.hidden_size}, gen, at::kBFloat16);
  auto cache = m16->make_cache(2, 101, at::kBFloat16, at::kCPU);
  auto y = at::cat({m16->forward(x, Positions{}, cache.get()),
                    m16->forward(x.narrow(1, 99, 1), Positions{}, cache.get())}, 1);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_EQ(as_linear(*cache).state.scalar_type(), at::kFloat);
  auto ref = m64->forward(at::cat({x, x.narrow(1, 99, 1)}, 1).to(at::kDouble), nullptr,
                          LinearForm::kNaive);
  const double err = rel_err(y, ref);
  std::printf("%s: bf16 chunked+step vs fp64 naive: %.2e\n", s.kind.c_str(), err);
  EXPECT_LT(err, 3e-2);
}

TEST_P(LinearModule, RandomInitIsSeededAndFollowsFla) {
  const auto s = small_settings(GetParam());
  auto a = make_linear_mixer(s, 5), b = make_linear_mixer(s, 5), c = make_linear_mixer(s, 6);
  auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  bool differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(at::equal(*pa[i].second, *pb[i].second)) << pa[i].first;
    EXPECT_EQ(pa[i].second->scalar_type(), at::kFloat);
    differs |= !at::equal(*pa[i].second, *pc[i].second);
  }
  EXPECT_TRUE(differs);
  std::map<std::string, at::Tensor*> P(pa.begin(), pa.end());
  EXPECT_TRUE(at::equal(*P["o_norm.weight"], at::ones({s.head_dim})));
  const double std_q = P["q_proj.weight"]->std().item<double>();
  EXPECT_NEAR(std_q, 0.02, 0.004);
  if (GetParam() != "gla") {
    auto A = P["A_log"]->exp(), dt = at::softplus(*P["dt_bias"]);
    EXPECT_TRUE((A > 0).all().item<bool>() && (A < 16).all().item<bool>());
    EXPECT_TRUE((dt >= 1e-4 - 1e-9).all().item<bool>() && (dt <= 0.1 + 1e-6).all().item<bool>());
  } else {
    EXPECT_EQ(P["gk_proj.1.bias"]->abs().max().item<double>(), 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Linear, LinearModule, ::testing::Values("gla", "gdn", "jet"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace hyb::test
