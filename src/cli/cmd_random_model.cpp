// hybridize random-model --config CONFIG.json --out DIR: a loadable checkpoint with random
// weights, for shape-true benchmarks of models that cannot be downloaded here.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "model/random_model.h"
#include "util/device.h"

namespace hyb::cli {

void add_random_model(CLI::App& app) {
  auto* cmd = app.add_subcommand("random-model", "Write a model directory with random weights for a config.json");
  struct Args {
    std::string config, out, dtype = "bfloat16";
    uint64_t seed = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--config", a->config, "config.json of the architecture")->required();
  cmd->add_option("--out", a->out, "Output model directory (new or empty)")->required();
  cmd->add_option("--dtype", a->dtype, "float32 | bfloat16 | float16");
  cmd->add_option("--seed", a->seed, "Random seed");
  cmd->callback([a] {
    const int64_t n = write_random_model(a->config, a->out, a->seed, parse_dtype(a->dtype, "--dtype"));
    fmt::print("wrote {} ({:.1f} M parameters, {})\n", a->out, n / 1e6, a->dtype);
  });
}

}  // namespace hyb::cli
