// hybridize perplexity --model DIR --data FILE... [--linear linear.safetensors --layers SPEC] [--sweep]:
// held-out perplexity of the teacher, or of the model with distilled layers swapped in; --sweep
// scores the teacher, each listed layer replaced alone, and all of them replaced together. A
// hybrid --model is named as such, its linear layers listed as replaced in every row.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "cli/checks.h"
#include "cli/commands.h"
#include "distill/data.h"
#include "distill/distill.h"
#include "distill/perplexity.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"
#include "util/progress.h"

namespace hyb::cli {

namespace {
struct PerplexityArgs {
  std::string model, tokenizer, linear, layers, device = "auto", dtype, out;
  std::vector<std::string> data;
  int64_t seq_len = 512, sequences = 64, batch = 8;
  int threads = 0;
  bool sweep = false, fold_vocab = false, no_progress = false, overwrite = false;
};
}  // namespace

void add_perplexity(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Held-out perplexity of a model, optionally with distilled layers swapped in");
  auto a = std::make_shared<PerplexityArgs>();
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
  cmd->add_option("--data", a->data, "Text files or globs (.txt / .jsonl)")->required();
  cmd->add_option("--linear", a->linear, "linear.safetensors from `hybridize distill` (default: none, the model as it is)");
  cmd->add_option("--layers", a->layers, "Layers to replace (default: every layer in --linear)");
  cmd->add_flag("--sweep", a->sweep, "Score the teacher, each layer replaced alone, and all replaced");
  cmd->add_option("--seq-len", a->seq_len, "Tokens per sequence")->check(number_in(2, 1 << 20, "a whole number from 2 to 1048576"))->capture_default_str();
  cmd->add_option("--sequences", a->sequences, "Sequences scored (the first ones of --data)")
      ->check(positive())->capture_default_str();
  cmd->add_option("--batch-size", a->batch, "Sequences per forward")->check(positive())->capture_default_str();
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  cmd->add_option("--out", a->out, "Also write the results to this JSON file (default: none)");
  cmd->add_flag("--overwrite", a->overwrite, "Replace an existing --out file");
  cmd->add_flag("--no-progress", a->no_progress, "No progress bar");
  cmd->add_flag("--fold-vocab", a->fold_vocab, "Map token ids >= the model's vocab to id % vocab (random fixtures)");
  cmd->callback([a] {
    if (a->sweep && a->linear.empty()) fail("--sweep", "needs --linear");
    // Without --linear there is nothing to replace the layers with: ignoring --layers would score
    // the teacher under a name that says otherwise.
    if (!a->layers.empty() && a->linear.empty()) fail("--layers", "needs --linear (the modules that replace the layers)");
    auto model = load_model(a->model, a->device, a->dtype, a->threads);  // checks --device and --dtype first
    const std::vector<std::filesystem::path> data_files = expand_data_paths(a->data);
    std::vector<std::filesystem::path> inputs = {a->model, a->linear, a->tokenizer};
    inputs.insert(inputs.end(), data_files.begin(), data_files.end());
    require_new_output_files({{"--out", a->out}}, inputs, a->overwrite);
    // Provenance first: modules distilled from another teacher are refused before any work.
    if (!a->linear.empty()) LinearFile::open(a->linear).check_teacher(a->model);
    const Tokenizer tok = Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer);
    PackOptions po;
    po.seq_len = a->seq_len;
    po.held_out = a->sequences;
    po.vocab_size = model->config().vocab_size;
    po.fold_vocab = a->fold_vocab;
    po.allow_fewer_held_out = true;
    DocTokenizer dt = DocTokenizer::from(tok);
    const auto seqs = SequenceStream(data_files, dt, po).held_out();
    if (seqs.empty()) fail("--data", "holds no sequence of {} tokens", a->seq_len);

    std::vector<int64_t> layers;
    if (!a->linear.empty())
      layers = a->layers.empty() ? linear_file_layers(a->linear)
                                 : parse_layer_list(a->layers, model->num_layers(), "--layers");
    // A hybrid --model is no teacher: its own linear layers are replaced in every row.
    std::vector<int64_t> own_linear;
    for (int64_t l = 0; l < model->num_layers(); ++l)
      if (model->config().is_linear(l)) own_linear.push_back(l);
    const std::string base_name =
        own_linear.empty() ? "teacher" : fmt::format("hybrid ({} linear)", own_linear.size());
    nlohmann::json results = nlohmann::json::array();
    auto score = [&](const std::string& name, std::vector<int64_t> replaced) {
      Progress bar(name, static_cast<int64_t>(seqs.size()), "seq",
                   a->no_progress ? Progress::Mode::kSilent : Progress::Mode::kAuto);
      PerplexityResult r = perplexity(*model, seqs, a->batch, dt.bos, [&](int64_t done) { bar.update(done); });
      bar.clear();  // the row replaces it
      replaced.insert(replaced.end(), own_linear.begin(), own_linear.end());
      std::sort(replaced.begin(), replaced.end());
      replaced.erase(std::unique(replaced.begin(), replaced.end()), replaced.end());
      fmt::print("{:<24} {:>10.4f} {:>10.4f}\n", name, r.ppl(), r.mean_nll());
      std::fflush(stdout);
      results.push_back({{"name", name}, {"replaced", replaced}, {"ppl", r.ppl()}, {"nll", r.mean_nll()},
                         {"tokens", r.tokens}});
    };
    fmt::print("{} sequences of {} tokens\n{:<24} {:>10} {:>10}\n", seqs.size(), a->seq_len, "model", "ppl", "nll/token");
    if (a->linear.empty() || a->sweep) score(base_name, {});
    if (a->sweep) {
      for (int64_t l : layers) {
        auto saved = std::move(model->layer(l).mixer);
        load_linear_layers(*model, a->linear, {l});  // teacher checked below, before the sweep
        score(fmt::format("layer {} replaced", l), {l});
        model->set_mixer(l, std::move(saved));
      }
    }
    if (!a->linear.empty()) {
      load_linear_layers(*model, a->linear, layers);
      score(layers.size() == 1 ? fmt::format("layer {} replaced", layers[0])
                               : fmt::format("{} layers replaced", layers.size()),
            layers);
    }
    if (!a->out.empty())
      write_file_atomic(a->out, nlohmann::json{{"model", a->model}, {"linear", a->linear}, {"data", a->data},
                                                {"seq_len", a->seq_len}, {"sequences", seqs.size()},
                                                {"results", results}}.dump(2) + "\n");
  });
}

}  // namespace hyb::cli
