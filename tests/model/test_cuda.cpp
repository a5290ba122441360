// The same model on CUDA (when this LibTorch has it) against HF's reference: fp32 within 1e-4,
// bf16 within the bound of the CPU bf16 test. Skipped on machines without a GPU.
#include <torch/torch.h>

#include "../test_util.h"
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
      if (dtype == at::kFloat) {
        auto prompt = ref->tensor("generate_prompt"), expect = ref->tensor("generate_output");
        std::vector<std::vector<int64_t>> prompts;
        for (int64_t b = 0; b < prompt.size(0); ++b) {
          auto row = prompt[b].contiguous();
          prompts.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
        }
        GenerateOptions g;
        g.max_new_tokens = expect.size(1) - prompt.size(1);
        auto out = generate(*model, prompts, g);
        for (int64_t b = 0; b < prompt.size(0); ++b) {
          auto row = expect[b].narrow(0, prompt.size(1), g.max_new_tokens).contiguous();
          EXPECT_EQ(out[b], std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()));
        }
      }
    }
  }
}

}  // namespace
}  // namespace hyb
