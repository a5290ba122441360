// bench_linear: how fast are the linear modules' forms? One layer, random weights and inputs.
//   CPU (default, fp32, B=1): chunked forward and forward+backward against the naive recurrence,
//       at T = 512 and 2048, for the stories260K shape (D=64, H=8, Hkv=4, d=8) and one layer of
//       Qwen2.5-1.5B (D=1536, H=12, Hkv=2, d=128).
//   CUDA (--device cuda, bf16, B=4, T=2048, Qwen shape): the same forms, the decoding step, the
//       bare chunked recurrence, and causal scaled-dot-product attention on the same q/k/v shape.
//       --profile adds where that time goes: the profiler's record of every kernel the chunked
//       forward, forward+backward and decoding step launch, by kind of kernel, and how much of
//       the wall time the GPU was busy at all (the rest is launch and host overhead).
// usage: bench_linear [--device cpu|cuda] [--threads N] [--shape stories|qwen] [--kind K] [--T N]
//                     [--clock wall|cpu] [--naive-gb G] [--profile] [--kernels fused|reference]
//   --kernels: the chunked forms' implementation on CUDA (linear/ops/dispatch.h; default fused).
//   --naive-gb: skip the naive forward+backward where autograd would hold more than G GB (4).
#include <fmt/format.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "linear/linear.h"
#include "linear/ops/dispatch.h"
#include "linear/ops/ops.h"
#include "util/error.h"
#include "util/profile.h"
#include "util/torch_compat.h"

namespace {

using hyb::LinearForm;

struct Shape {
  const char* name;
  int64_t D, H, Hkv, d;
};
constexpr Shape kStories{"stories260K", 64, 8, 4, 8};
constexpr Shape kQwen{"qwen2.5-1.5B", 1536, 12, 2, 128};

void sync(const at::Device& dev) {
  if (dev.is_cuda()) torch::cuda::synchronize();
}

// --clock cpu: process CPU time instead of wall time. With --threads 1 on a machine shared with
// other jobs this is the time the work takes on one core of its own.
bool g_cpu_clock = false;

double now_ms() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median time in ms of `f`, after one warm-up; repeats while under ~1 s (at most 10 times).
double time_ms(const at::Device& dev, const std::function<void()>& f) {
  auto once = [&] {
    sync(dev);
    const double t0 = now_ms();
    f();
    sync(dev);
    return now_ms() - t0;
  };
  const double first = once();
  std::vector<double> t{once()};
  const int reps = std::clamp(static_cast<int>(1000.0 / std::max(first, 1e-3)), 1, 10);
  for (int i = 1; i < reps; ++i) t.push_back(once());
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::unique_ptr<hyb::LinearMixer> make_module(const std::string& kind, const Shape& sh,
                                              const at::Device& dev, at::ScalarType dtype) {
  hyb::LinearSettings s;
  s.kind = kind;
  s.hidden_size = sh.D, s.num_heads = sh.H, s.num_kv_heads = sh.Hkv, s.head_dim = sh.d;
  std::unique_ptr<hyb::LinearMixer> m(
      dynamic_cast<hyb::LinearMixer*>(hyb::make_linear_mixer(s, 1).release()));
  for (auto& [name, p] : m->parameters()) *p = p->to(dev, dtype);
  return m;
}

void set_requires_grad(hyb::LinearMixer& m, bool on) {
  for (auto& [name, p] : m.parameters()) {
    p->set_requires_grad(on);
    p->mutable_grad() = at::Tensor();
  }
}

double fwd_ms(hyb::LinearMixer& m, const at::Tensor& x, LinearForm form) {
  at::NoGradGuard no_grad;
  return time_ms(x.device(), [&] { m.forward(x, nullptr, form); });
}

double fwd_bwd_ms(hyb::LinearMixer& m, const at::Tensor& x, LinearForm form) {
  set_requires_grad(m, true);
  auto r = at::randn_like(x);
  const double ms = time_ms(x.device(), [&] {
    (m.forward(x, nullptr, form) * r).sum().backward();
    for (auto& [name, p] : m.parameters()) p->mutable_grad() = at::Tensor();
  });
  set_requires_grad(m, false);
  return ms;
}

// The bare recurrence of `kind` on random q, k, v, gates of the layer's shape (what remains of a
// module without its projections, convolutions and norm). v is returned to take gradients.
struct Core {
  at::Tensor v;
  std::function<at::Tensor(LinearForm)> run;
};
Core make_core(const std::string& kind, const Shape& sh, int64_t B, int64_t T,
               const at::TensorOptions& opts) {
  const int64_t H = sh.H, Hk = kind == "gla" ? sh.Hkv : sh.H, d = sh.d;
  const double scale = 1 / std::sqrt(double(d));
  auto f32 = opts.dtype(at::kFloat);
  auto q = at::randn({B, T, H, d}, opts), k = at::randn({B, T, Hk, d}, opts);
  Core c{at::randn({B, T, Hk, d}, opts), {}};
  auto v = c.v;
  if (kind == "gla") {
    auto gk = at::log_sigmoid(at::randn({B, T, Hk, d}, f32)) / 16;
    c.run = [=](LinearForm form) {
      return form == LinearForm::kNaive ? hyb::ops::gla_naive(q, k, v, gk, scale, {}).o
                                        : hyb::ops::gla_chunk(q, k, v, gk, scale, {}, 64).o;
    };
  } else {
    auto unit = [](const at::Tensor& t) { return t / t.norm(2, -1, true); };
    auto g = -at::softplus(at::randn({B, T, H}, f32));
    auto beta = at::sigmoid(at::randn({B, T, H}, f32));
    auto qn = unit(q), kn = unit(k);
    c.run = [=](LinearForm form) {
      return form == LinearForm::kNaive
                 ? hyb::ops::gated_delta_naive(qn, kn, v, g, beta, scale, {}).o
                 : hyb::ops::gated_delta_chunk(qn, kn, v, g, beta, scale, {}, 64).o;
    };
  }
  return c;
}

double core_fwd_ms(const Core& c, LinearForm form) {
  at::NoGradGuard no_grad;
  return time_ms(c.v.device(), [&] { c.run(form); });
}

double core_fwd_bwd_ms(Core& c, LinearForm form) {
  c.v.set_requires_grad(true);
  const double ms = time_ms(c.v.device(), [&] {
    c.run(form).sum().backward();
    c.v.mutable_grad() = at::Tensor();
  });
  c.v.set_requires_grad(false);
  return ms;
}

std::string cell(double ms) { return ms < 0 ? "skipped" : fmt::format("{:.1f}", ms); }

struct Filter {
  std::string shape, kind;
  int64_t T = 0;
  double naive_gb = 4;  // skip naive forward+backward estimated to need more memory than this
};

void bench_cpu(const Filter& only) {
  fmt::print("CPU, fp32, B=1, {} threads; {} time in ms (median)\n", at::get_num_threads(),
             g_cpu_clock ? "process CPU" : "wall");
  fmt::print("module: the whole layer (projections, convolutions, gates, norm); core: the bare\n"
             "recurrence on q/k/v of the same shape. x = naive time / chunked time.\n");
  fmt::print("{:<13} {:<4} {:>5} | {:>9} {:>9} {:>9} {:>9} {:>5} {:>5} | {:>9} {:>9} {:>5}\n",
             "shape", "kind", "T", "chunk fwd", "chunk f+b", "naive fwd", "naive f+b", "fwd x",
             "f+b x", "core chk", "core nv", "x");
  const at::Device cpu(at::kCPU);
  for (const Shape& sh : {kStories, kQwen})
    for (const char* kind : {"gla", "gdn", "jet"})
      for (int64_t T : {512, 2048}) {
        if ((!only.shape.empty() && std::string(sh.name).rfind(only.shape, 0) != 0) ||
            (!only.kind.empty() && only.kind != kind) || (only.T && only.T != T))
          continue;
        auto m = make_module(kind, sh, cpu, at::kFloat);
        auto x = at::randn({1, T, sh.D});
        const double cf = fwd_ms(*m, x, LinearForm::kChunked);
        const double cb = fwd_bwd_ms(*m, x, LinearForm::kChunked);
        const double nf = fwd_ms(*m, x, LinearForm::kNaive);
        // Autograd through the naive loop keeps a few states per token: skip above the limit.
        const auto L = m->cache_layout();
        const double naive_bytes = 5.0 * T * L.state_heads * L.dk * L.dv * 4;
        const double nb =
            naive_bytes > only.naive_gb * 1e9 ? -1 : fwd_bwd_ms(*m, x, LinearForm::kNaive);
        auto core = make_core(kind, sh, 1, T, at::TensorOptions());
        const double kc = core_fwd_ms(core, LinearForm::kChunked);
        const double kn = core_fwd_ms(core, LinearForm::kNaive);
        fmt::print("{:<13} {:<4} {:>5} | {:>9} {:>9} {:>9} {:>9} {:>5.1f} {:>5} | {:>9} {:>9} "
                   "{:>5.1f}\n", sh.name, kind, T, cell(cf), cell(cb), cell(nf), cell(nb),
                   nf / cf, nb < 0 ? "-" : fmt::format("{:.1f}", nb / cb), cell(kc), cell(kn),
                   kn / kc);
        std::fflush(stdout);
      }
}

double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  auto r = ref.to(at::kCPU, at::kDouble);
  return (a.to(at::kCPU, at::kDouble) - r).abs().max().item<double>() /
         r.abs().max().item<double>();
}

// The device's forms against the fp64 naive recurrence on the CPU (same weights, same input).
void check_cuda() {
  const at::Device dev(at::kCUDA), cpu(at::kCPU);
  const Shape sh{"check", 256, 4, 2, 64};
  fmt::print("CUDA vs CPU fp64 naive, B=2, T=200, D=256, H=4, Hkv=2, d=64 (max rel err):\n");
  for (const char* kind : {"gla", "gdn", "jet"}) {
    auto ref_m = make_module(kind, sh, cpu, at::kDouble);
    auto m32 = make_module(kind, sh, dev, at::kFloat);
    auto m16 = make_module(kind, sh, dev, at::kBFloat16);
    auto x = at::randn({2, 200, sh.D}, at::kDouble);
    at::NoGradGuard no_grad;
    auto ref = ref_m->forward(x, nullptr, LinearForm::kNaive);
    auto xd = x.to(dev, at::kFloat);
    fmt::print("  {:<4} fp32 chunked {:.2e}  fp32 step {:.2e}  fp32 naive {:.2e}  "
               "bf16 chunked {:.2e}\n",
               kind, rel_err(m32->forward(xd, nullptr, LinearForm::kChunked), ref),
               rel_err(m32->forward(xd, nullptr, LinearForm::kStep), ref),
               rel_err(m32->forward(xd, nullptr, LinearForm::kNaive), ref),
               rel_err(m16->forward(xd.to(at::kBFloat16), nullptr, LinearForm::kChunked), ref));
  }
}

// ---- --profile: where the GPU time goes (util/profile) -----------------------------------------
void print_profile(const char* what, double wall_ms, const std::function<void()>& f) {
  fmt::print("{}", hyb::profile_kernels(what, f, at::Device(at::kCUDA), wall_ms));
}

bool g_profile = false;

void bench_cuda() {
  check_cuda();
  const at::Device dev(at::kCUDA);
  const int64_t B = 4, T = 2048;
  const Shape sh = kQwen;
  fmt::print("CUDA, bf16 activations and weights (fp32 states), B={}, T={}, {}; ms (median)\n", B,
             T, sh.name);
  fmt::print("{:<4} | {:>10} {:>10} | {:>10} | {:>12} | {:>10} {:>10}\n", "kind", "chunk fwd",
             "chunk f+b", "naive fwd", "step/token", "core fwd", "core f+b");
  auto opts = at::TensorOptions().device(dev).dtype(at::kBFloat16);
  for (const char* kind : {"gla", "gdn", "jet"}) {
    auto m = make_module(kind, sh, dev, at::kBFloat16);
    auto x = at::randn({B, T, sh.D}, opts);
    const double cf = fwd_ms(*m, x, LinearForm::kChunked);
    const double cb = fwd_bwd_ms(*m, x, LinearForm::kChunked);
    const double nf = fwd_ms(*m, x, LinearForm::kNaive);
    // Decoding: one token on a carried cache.
    auto cache = m->make_cache(B, T + 1, at::kBFloat16, dev);
    auto x1 = x.narrow(1, 0, 1).contiguous();
    double step;
    {
      at::NoGradGuard no_grad;
      step = time_ms(dev, [&] { m->forward(x1, cache.get(), LinearForm::kAuto); });
    }
    // The bare recurrence on q/k/v of the layer's shape.
    auto core = make_core(kind, sh, B, T, opts);
    const double core_f = core_fwd_ms(core, LinearForm::kChunked);
    const double core_fb = core_fwd_bwd_ms(core, LinearForm::kChunked);
    fmt::print("{:<4} | {:>10.2f} {:>10.2f} | {:>10.1f} | {:>12.3f} | {:>10.2f} {:>10.2f}\n", kind,
               cf, cb, nf, step, core_f, core_fb);
    if (g_profile) {
      {
        at::NoGradGuard no_grad;
        print_profile("chunked forward", cf, [&] { m->forward(x, nullptr, LinearForm::kChunked); });
        print_profile("decoding step", step,
                      [&] { m->forward(x1, cache.get(), LinearForm::kAuto); });
        print_profile("core chunked forward", core_f, [&] { core.run(LinearForm::kChunked); });
      }
      set_requires_grad(*m, true);
      auto r = at::randn_like(x);
      print_profile("chunked forward+backward", cb,
                    [&] { (m->forward(x, nullptr, LinearForm::kChunked) * r).sum().backward(); });
      set_requires_grad(*m, false);
    }
    std::fflush(stdout);
  }
#if TORCH_VERSION_MAJOR >= 2
  // Causal softmax attention on the same shape (kv heads repeated to H, as SDPA wants).
  auto q = at::randn({B, sh.H, T, sh.d}, opts);
  auto k = at::randn({B, sh.Hkv, T, sh.d}, opts).repeat_interleave(sh.H / sh.Hkv, 1);
  auto v = at::randn({B, sh.Hkv, T, sh.d}, opts).repeat_interleave(sh.H / sh.Hkv, 1);
  auto sdpa = [&] {
    return at::scaled_dot_product_attention(q, k, v, c10::nullopt, 0.0, /*is_causal=*/true);
  };
  double f;
  {
    at::NoGradGuard no_grad;
    f = time_ms(dev, [&] { sdpa(); });
  }
  q.set_requires_grad(true);
  const double fb = time_ms(dev, [&] {
    sdpa().sum().backward();
    q.mutable_grad() = at::Tensor();
  });
  fmt::print("sdpa (causal, same q/k/v shape): fwd {:.2f} ms, fwd+bwd {:.2f} ms\n", f, fb);
#else
  fmt::print("sdpa: needs LibTorch >= 2\n");
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string device = "cpu";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Filter only;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--device") && has_value) device = argv[++i];
    else if (!std::strcmp(argv[i], "--threads") && has_value) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shape") && has_value) only.shape = argv[++i];
    else if (!std::strcmp(argv[i], "--kind") && has_value) only.kind = argv[++i];
    else if (!std::strcmp(argv[i], "--T") && has_value) only.T = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--clock") && has_value)
      g_cpu_clock = !std::strcmp(argv[++i], "cpu");
    else if (!std::strcmp(argv[i], "--naive-gb") && has_value) only.naive_gb = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--kernels") && has_value) {
      try {
        hyb::ops::set_kernels(hyb::ops::parse_kernels(argv[++i]));
      } catch (const hyb::Error& e) {
        std::fprintf(stderr, "bench_linear: %s\n", e.what());
        return 2;
      }
    }
    else if (!std::strcmp(argv[i], "--profile"))
      g_profile = true;
    else {
      std::fprintf(stderr,
                   "usage: bench_linear [--device cpu|cuda] [--threads N] [--shape stories|qwen] "
                   "[--kind gla|gdn|jet] [--T 512|2048] [--clock wall|cpu] [--naive-gb G] [--profile] "
                   "[--kernels fused|reference]\n");
      return 2;
    }
  }
  at::set_num_threads(threads);
  if (g_profile && device != "cuda") {
    std::fprintf(stderr, "bench_linear: --profile reports GPU kernels; use it with --device cuda\n");
    return 2;
  }
  if (device == "cuda") {
    if (!torch::cuda::is_available()) {
      std::fprintf(stderr, "bench_linear: CUDA is not available\n");
      return 1;
    }
    bench_cuda();
  } else {
    bench_cpu(only);
  }
  return 0;
}
