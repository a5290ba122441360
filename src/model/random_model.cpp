#include "model/random_model.h"

#include <torch/torch.h>

#include "model/model.h"
#include "util/files.h"

namespace hyb {

int64_t write_random_model(const std::filesystem::path& config, const std::filesystem::path& out, uint64_t seed,
                           at::ScalarType dtype) {
  require_new_output_dir("--out", out, {config});
  const OutputLock lock = OutputLock::acquire("--out", out);  // a second run into it is refused
  require_new_output_dir("--out", out, {config});              // and nothing appeared before the lock
  torch::NoGradGuard no_grad;
  auto model = CausalLM::random(ModelConfig::load(config), seed, dtype);
  StagedDir staged(out);
  model->save(staged.path());
  staged.publish("--out");
  return model->num_parameters();
}

}  // namespace hyb
