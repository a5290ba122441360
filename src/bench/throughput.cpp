#include "bench/throughput.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "model/decode_engine.h"
#include "model/model.h"
#include "util/device.h"
#include "util/torch_compat.h"

namespace hyb {

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

nlohmann::json ThroughputRow::to_json() const {
  return {{"config", config},           {"num_linear", num_linear},       {"context", context},
          {"batch", batch},             {"prefill_tokens_per_s", prefill_tok_s},
          {"decode_tokens_per_s", decode_tok_s}, {"peak_memory_bytes", peak_bytes},
          {"kv_cache_bytes", kv_bytes}, {"state_bytes", state_bytes},     {"weight_bytes", weight_bytes},
          {"decode_bound_tokens_per_s", bound_tok_s}, {"speedup", speedup}, {"decode_cuda_graph", cuda_graph},
          {"bandwidth_bytes_per_s", bandwidth}, {"peak_memory_scope", peak_scope}};
}

ThroughputRow ThroughputRow::from_json(const nlohmann::json& j) {
  ThroughputRow r;
  r.config = j.at("config").get<std::string>();
  r.num_linear = j.at("num_linear").get<int64_t>();
  r.context = j.at("context").get<int64_t>();
  r.batch = j.at("batch").get<int64_t>();
  r.prefill_tok_s = j.at("prefill_tokens_per_s").get<double>();
  r.decode_tok_s = j.at("decode_tokens_per_s").get<double>();
  r.peak_bytes = j.at("peak_memory_bytes").get<int64_t>();
  r.kv_bytes = j.at("kv_cache_bytes").get<int64_t>();
  r.state_bytes = j.at("state_bytes").get<int64_t>();
  r.weight_bytes = j.at("weight_bytes").get<int64_t>();
  r.bound_tok_s = j.at("decode_bound_tokens_per_s").get<double>();
  r.speedup = j.at("speedup").get<double>();
  r.cuda_graph = j.value("decode_cuda_graph", false);  // absent in rows written before it was recorded
  r.bandwidth = j.value("bandwidth_bytes_per_s", 0.0);  // likewise
  r.peak_scope = j.value("peak_memory_scope", "");      // likewise
  return r;
}

std::string peak_memory_note(const std::vector<ThroughputRow>& rows) {
  std::set<std::string> scopes;
  for (const auto& r : rows)
    if (!r.peak_scope.empty()) scopes.insert(r.peak_scope);
  if (scopes.empty()) return "";
  if (scopes.size() > 1) return "peak GiB: measured differently across these rows (peak_memory_scope in their JSON)";
  const std::string& s = *scopes.begin();
  if (s == "gpu_allocated")
    return "peak GiB: the most GPU memory held in tensors during each row's timed run (weights, cache, activations)";
  if (s == "resident")
    return "peak GiB: the process's peak resident memory during each row's timed run (weights included, and memory "
           "the allocator kept from earlier rows)";
  return "peak GiB: the process's peak resident memory since it started (this system cannot reset it per row)";
}

double default_bandwidth(at::Device device) {
  if (!device.is_cuda()) return 2e10;
  if (const double b = measured_bandwidth_bytes_per_s(device); b > 0) return b;
  fmt::print(stderr, "bench: no measured bandwidth for {}; the bound uses 4.3e12 bytes/s (pass --bandwidth)\n",
             device_name(device));
  return 4.3e12;
}

int64_t max_batch_that_fits(CausalLM& model, const ThroughputOptions& opt) {
  const auto dev = model.device();
  const int64_t free = free_memory_bytes(dev);
  const ModelConfig& c = model.config();
  const int64_t el = c10::elementSize(model.dtype());
  const int64_t max_len = opt.context + opt.new_tokens;
  const int64_t chunk = std::min(opt.prefill_chunk > 0 ? opt.prefill_chunk
                                                       : CausalLM::default_prefill_chunk(dev, opt.context),
                                 opt.context);
  // Attention on CUDA runs the fused kernel (no [chunk, context] scores); a chunk after the first
  // still carries a mask [chunk, max_len] (fp32, and its copy in the activation dtype) and K, V
  // repeated to the query heads for the largest layer. On the CPU the scores are materialised in fp32.
  const bool fused_attention = compat::kHasSdpa && dev.is_cuda();
  const bool later_chunks = chunk < opt.context;
  for (int64_t b = opt.max_batch; b >= 1; b = b > 8 ? b - b / 8 : b - 1) {
    // Working set of one prefill chunk: hidden states and MLP activations (a few times
    // [b, chunk, max(D, I)]), attention's as above, and the logits of the last position.
    const int64_t act = 6 * b * chunk * std::max(c.hidden_size, c.intermediate_size) * el;
    int64_t attn = 0;
    if (!fused_attention) attn = 2 * b * c.num_heads * chunk * max_len * 4;
    else if (later_chunks) attn = chunk * max_len * (4 + el) + 2 * b * c.num_heads * max_len * c.head_dim * el;
    const int64_t need = model.cache_bytes(b, max_len, model.dtype()) + act + attn + b * c.vocab_size * 4 * 2;
    if (need < free * 0.85) return b;
  }
  return 1;
}

ThroughputRow measure_throughput(CausalLM& model, const std::string& config, const ThroughputOptions& opt) {
  torch::NoGradGuard ng;
  const auto dev = model.device();
  const ModelConfig& c = model.config();
  ThroughputRow row;
  row.config = config;
  row.num_linear = c.num_linear_layers();
  row.context = opt.context;
  row.batch = opt.batch > 0 ? opt.batch : max_batch_that_fits(model, opt);
  const int64_t B = row.batch, max_len = opt.context + opt.new_tokens;
  for (auto& [name, t] : model.parameters()) row.weight_bytes += t->numel() * t->element_size();

  auto ids = at::randint(c.vocab_size, {B, opt.context}, at::TensorOptions().dtype(at::kLong).device(dev));
  auto run = [&](int64_t new_tokens, double* t_prefill, double* t_decode) {
    auto cache = model.make_cache(B, max_len);
    synchronize(dev);
    double t0 = now();
    at::Tensor next = model.prefill(ids, *cache, opt.prefill_chunk).argmax(-1);
    synchronize(dev);
    double t1 = now();
    DecodeEngine engine(model, *cache, opt.cuda_graph);
    for (int64_t i = 0; i < new_tokens; ++i) next = engine.step(next).argmax(-1);
    synchronize(dev);
    double t2 = now();
    row.cuda_graph = engine.graphed();
    if (t_prefill) *t_prefill = t1 - t0;
    if (t_decode) *t_decode = t2 - t1;
    row.kv_bytes = cache->kv_bytes();
    row.state_bytes = cache->state_bytes();
  };
  // Warm-up (kernel selection, graph capture, allocator) on a short decode, then the timed run.
  run(std::min<int64_t>(4, opt.new_tokens), nullptr, nullptr);  // the cache holds context + new_tokens
  const bool per_row = reset_peak_memory(dev);
  double tp = 0, td = 0;
  run(opt.new_tokens, &tp, &td);
  row.peak_bytes = peak_memory_bytes(dev);
  row.peak_scope = dev.is_cuda() ? "gpu_allocated" : per_row ? "resident" : "resident_so_far";
  row.prefill_tok_s = B * opt.context / tp;
  row.decode_tok_s = B * opt.new_tokens / td;
  // Bytes one decoding step must read: every weight once, the KV of the average context
  // (context + new_tokens/2 positions of every attention layer), and each linear state read
  // and written once. The bound is batch tokens per (bytes / bandwidth).
  const double avg_len = opt.context + opt.new_tokens / 2.0;
  const double kv_read = static_cast<double>(row.kv_bytes) * avg_len / max_len;
  const double bytes = static_cast<double>(row.weight_bytes) + kv_read + 2.0 * row.state_bytes;
  row.bound_tok_s = B / (bytes / opt.bandwidth);
  row.bandwidth = opt.bandwidth;
  return row;
}

}  // namespace hyb
