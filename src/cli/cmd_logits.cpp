// hybridize logits --model DIR --ids 1,2,3 [--ids ...] --out FILE.safetensors: the model's fp32
// logits for given token ids, written with `input_ids` beside them, so that another implementation
// (the Python modeling code an export ships, python/tests) can be compared with ours.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <filesystem>

#include "cli/checks.h"
#include "cli/commands.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "util/error.h"
#include "util/files.h"

namespace hyb::cli {

namespace {
struct LogitsArgs {
  std::string model, out, device = "auto", dtype;
  std::vector<std::string> ids;
  int threads = 0;
  bool overwrite = false;
};
}  // namespace

void add_logits(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Write a model's logits for token ids to a safetensors file");
  auto a = std::make_shared<LogitsArgs>();
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--ids", a->ids, "Comma-separated token ids, one sequence per flag (all of one length)")
      ->required();
  cmd->add_option("--out", a->out, "Output .safetensors file (input_ids [B,T], logits [B,T,V] fp32)")
      ->required();
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing --out file");
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  cmd->callback([a] {
    torch::NoGradGuard ng;
    require_new_output_files({{"--out", a->out}}, {a->model}, a->overwrite);
    std::vector<std::vector<int64_t>> rows;
    for (const auto& s : a->ids) rows.push_back(parse_token_ids("--ids", s));
    for (const auto& r : rows)
      if (r.size() != rows[0].size()) fail("--ids", "sequences of different lengths ({} and {})", rows[0].size(), r.size());
    auto model = load_model(a->model, a->device, a->dtype, a->threads);
    const int64_t V = model->config().vocab_size;
    auto ids = torch::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())}, torch::kLong);
    for (size_t i = 0; i < rows.size(); ++i)
      for (size_t t = 0; t < rows[i].size(); ++t) {
        if (rows[i][t] >= V) fail("--ids", "token id {} is outside the vocabulary (size {})", rows[i][t], V);
        ids[i][t] = rows[i][t];
      }
    auto logits = model->forward(ids.to(model->device())).to(torch::kCPU, torch::kFloat).contiguous();
    save_safetensors(a->out, {{"input_ids", ids}, {"logits", logits}}, {{"format", "pt"}});
  });
}

}  // namespace hyb::cli
