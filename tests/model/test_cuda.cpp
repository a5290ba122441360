// The same model on CUDA (when this LibTorch has it) against HF's reference: fp32 within 1e-4,
// bf16 within the bound of the CPU bf16 test. Skipped on machines without a GPU.
#include <torch/torch.h>

#include "../test_util.h"
#include "fixture_util.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/model.h"

namespace hyb {
namespace {

TEST(Cuda, FixturesMatchReference) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  HYB_REQUIRE_SHARED(fixtures, "data/fixtures");
  torch::NoGradGuard ng;
  for (const char* name : {"tiny-qwen2", "tiny-llama3", "tiny-qwen2-bf16"}) {
    auto dir = fixtures / name;
    auto ref = SafetensorsFile::open(dir / "reference.safetensors");
    for (auto dtype : {at::kFloat, at::kBFloat16}) {
      LoadOptions opt;
      opt.device = at::Device("cuda");
      opt.dtype = dtype;
      auto model = CausalLM::load(dir, opt);
      auto logits = model->forward(ref->tensor("input_ids").cuda()).cpu();
      auto want = ref->tensor("logits");
      const double diff = (logits - want).abs().max().item<double>();
      std::cout << "[ info ] cuda " << name << " " << c10::toString(dtype) << " max |dlogit| = " << diff << "\n";
      EXPECT_LE(diff, dtype == at::kFloat ? 1e-4 : 0.02 * want.abs().max().item<double>()) << name;
      if (dtype == at::kFloat) test::expect_hf_generation(*model, *ref, name);
    }
  }
}

}  // namespace
}  // namespace hyb
