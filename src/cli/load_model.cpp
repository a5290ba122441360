// cli/load_model: the model loading every model-running command shares (see commands.h).
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include "cli/checks.h"
#include "cli/commands.h"
#include "linear/ops/dispatch.h"
#include "model/model.h"
#include "util/device.h"
#include "util/threads.h"

namespace hyb::cli {

std::unique_ptr<CausalLM> load_model(const std::string& dir, const std::string& device, const std::string& dtype,
                                     int threads) {
  LoadOptions opt;
  opt.device = parse_device(device);
  if (!dtype.empty()) opt.dtype = parse_compute_dtype(dtype, opt.device, "--dtype");
  auto model = CausalLM::load(dir, opt);
  configure_threads(threads, model->config().hidden_size);
  return model;
}

void add_compute_options(CLI::App* cmd, std::string& device, std::string& dtype, int& threads) {
  cmd->add_option("--device", device, "cpu, cuda, cuda:N or auto (CUDA when available)")->capture_default_str();
  cmd->add_option("--dtype", dtype, "float32 or bfloat16 (default: float32 on CPU, the checkpoint's on CUDA)");
  cmd->add_option("--threads", threads, "CPU threads (default: all cores, 1 for models narrower than 256)")
      ->check(thread_count());
  add_kernels_option(cmd);
}

void add_kernels_option(CLI::App* cmd) {
  cmd->add_option_function<std::string>(
         "--kernels", [](const std::string& k) { ops::set_kernels(ops::parse_kernels(k)); },
         "Linear modules' chunked forms on CUDA: fused (the CUDA kernels, default) or reference "
         "(LibTorch ops, for comparison)")
      ->check(CLI::IsMember({"fused", "reference"}));
}

}  // namespace hyb::cli
