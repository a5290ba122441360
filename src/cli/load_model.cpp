// cli/load_model: the model loading every model-running command shares (see commands.h).
#include <ATen/ATen.h>

#include "cli/commands.h"
#include "model/model.h"
#include "util/threads.h"

namespace hyb::cli {

std::unique_ptr<CausalLM> load_model(const std::string& dir, const std::string& device, const std::string& dtype,
                                     int threads) {
  LoadOptions opt;
  opt.device = at::Device(device);
  if (!dtype.empty()) opt.dtype = parse_dtype(dtype, "--dtype");
  auto model = CausalLM::load(dir, opt);
  configure_threads(threads, model->config().hidden_size);
  return model;
}

}  // namespace hyb::cli
