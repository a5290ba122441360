// A linear.safetensors for a real model without distilling: every layer's module initialised from
// its attention (make_linear_mixer_from_attention), recorded as distilled from that model, so that
// search, export and perplexity accept it. For CLI tests that need modules, not good ones.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/fingerprint.h"
#include "linear/linear.h"
#include "linear/linear_file.h"
#include "model/model.h"

namespace hyb::test {

inline void write_modules_from_attention(const std::filesystem::path& model_dir, const std::filesystem::path& out,
                                         const std::string& mixer = "gdn") {
  torch::NoGradGuard ng;
  auto model = CausalLM::load(model_dir);
  auto s = LinearSettings::for_model(mixer, model->config());
  std::vector<std::unique_ptr<TokenMixer>> keep;
  std::map<int64_t, TokenMixer*> layers;
  for (int64_t l = 0; l < model->num_layers(); ++l) {
    keep.push_back(make_linear_mixer_from_attention(s, model->attention_weights(l), 1));
    layers[l] = keep.back().get();
  }
  save_linear_layers(out, s, layers, model_fingerprint(model_dir), model_dir.string());
}

}  // namespace hyb::test
