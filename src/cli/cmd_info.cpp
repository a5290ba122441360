// hybridize info --model DIR: architecture, parameters, layer types, dtype, memory.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "model/model.h"
#include "util/device.h"

namespace hyb::cli {

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a model directory (full or hybrid)");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("--model", *dir, "Model directory (config.json + safetensors)")->required();
  cmd->callback([dir] {
    auto model = CausalLM::load(*dir);
    const ModelConfig& c = model->config();
    const int64_t params = model->num_parameters();
    std::string types;
    for (int64_t l = 0; l < c.num_layers; ++l) types += c.is_linear(l) ? 'L' : 'A';
    fmt::print("model        {}\n", *dir);
    fmt::print("architecture {} ({} layers, hidden {}, intermediate {}, vocab {})\n", c.model_type, c.num_layers,
               c.hidden_size, c.intermediate_size, c.vocab_size);
    fmt::print("attention    {} heads, {} kv heads, head_dim {}, rope {} theta {}{}\n", c.num_heads, c.num_kv_heads,
               c.head_dim, c.rope.type, c.rope.theta, c.attention_bias ? ", q/k/v bias" : "");
    fmt::print("layers       {} (A = full attention, L = linear: {} of {})\n", types, c.num_linear_layers(),
               c.num_layers);
    if (c.num_linear_layers() > 0) fmt::print("linear       {}\n", c.linear.dump());
    fmt::print("parameters   {} ({:.2f} M){}\n", params, params / 1e6, c.tie_word_embeddings ? ", tied embeddings" : "");
    const double bytes = static_cast<double>(params) * (c.dtype == "float32" ? 4 : 2);
    fmt::print("dtype        {} (weights {:.1f} MiB in this dtype)\n", c.dtype, bytes / (1 << 20));
    const int64_t ctx = c.max_position_embeddings;
    // Per sequence: attention layers' K/V grow with the tokens; linear layers keep a fixed state
    // (the cache of an empty sequence).
    const at::ScalarType dt = parse_dtype(c.dtype, "config");
    const double fixed = static_cast<double>(model->cache_bytes(1, 0, dt));
    const double per_token = (static_cast<double>(model->cache_bytes(1, 1024, dt)) - fixed) / 1024;
    auto size = [](double b) {
      return b < (1 << 20) ? fmt::format("{:.1f} KiB", b / 1024) : fmt::format("{:.1f} MiB", b / (1 << 20));
    };
    fmt::print("cache        {} per token per sequence (K/V) + {} of linear state per sequence ({} at the full "
               "context of {})\n",
               size(per_token), size(fixed), size(static_cast<double>(model->cache_bytes(1, ctx, dt))), ctx);
  });
}

}  // namespace hyb::cli
