#include "demo/decode_speed.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>

#include "model/model.h"

namespace hyb::demo {

DecodeSpeed time_decode(CausalLM& model, int64_t batch, int64_t context, int64_t steps, int repeats) {
  torch::NoGradGuard no_grad;
  auto cache = model.make_cache(batch, context + steps + 1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  for (auto& c : cache->layers) c->fill_random(context, gen);
  // Rewinds every cache to `context` tokens (recurrent states cannot go back and are left as
  // they are: their values do not change the work of a step).
  auto rewind = [&] {
    for (auto& n : cache->lengths) n = context;
    for (auto& c : cache->layers)
      for (int64_t r = 0; r < batch; ++r) c->rewind(r, context);
  };
  auto ids = at::randint(3, model.config().vocab_size, {batch, 1}, gen, at::kLong);
  rewind();
  model.forward(ids, cache.get());  // warm-up (first-call allocations)

  DecodeSpeed r;
  r.batch = batch, r.context = context, r.steps = steps;
  r.seconds = 1e30;
  for (int rep = 0; rep < repeats; ++rep) {
    rewind();
    at::Tensor next = ids;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < steps; ++s)
      next = model.forward(next, cache.get()).select(1, 0).argmax(-1).view({batch, 1});
    r.seconds = std::min(r.seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  r.tokens_per_s = static_cast<double>(batch * steps) / r.seconds;
  r.cache_bytes = cache->bytes();
  return r;
}

}  // namespace hyb::demo
