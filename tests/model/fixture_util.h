// Shared by the fixture tests on CPU and CUDA: HF's greedy generate() output as the expectation.
#pragma once
#include <torch/torch.h>

#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "model/generate.h"
#include "model/model.h"

namespace hyb::test {

// Greedy generation with the KV cache from reference.safetensors' generate_prompt equals its
// generate_output, token for token.
inline void expect_hf_generation(CausalLM& model, const SafetensorsFile& ref, const std::string& what) {
  auto prompt = ref.tensor("generate_prompt"), expect = ref.tensor("generate_output");
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t b = 0; b < prompt.size(0); ++b) {
    auto row = prompt[b].contiguous();
    prompts.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  GenerateOptions g;
  g.max_new_tokens = expect.size(1) - prompt.size(1);
  auto out = generate(model, prompts, g);
  for (int64_t b = 0; b < prompt.size(0); ++b) {
    auto row = expect[b].narrow(0, prompt.size(1), g.max_new_tokens).contiguous();
    EXPECT_EQ(out[b], std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()))
        << what << " generation row " << b;
  }
}

}  // namespace hyb::test
