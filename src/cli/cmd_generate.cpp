// hybridize generate --model DIR --prompt TEXT: streams greedy (or sampled) tokens, reports tokens/s.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <iostream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "model/generate.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hyb::cli {

namespace {
struct GenerateArgs {
  std::string model, tokenizer, prompt, prompt_ids, device = "auto", dtype;
  int64_t max_new_tokens = 128;
  double temperature = 0, top_p = 1.0;
  uint64_t seed = 0;
  bool print_ids = false, no_stop = false;
  int threads = 0;
};
}  // namespace

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt (full or hybrid model)");
  auto a = std::make_shared<GenerateArgs>();
  cmd->add_option("--model", a->model, "Model directory")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory or tokenizer.json (default: the model's)");
  auto* p = cmd->add_option("--prompt", a->prompt, "Prompt text (default: none; give it or --prompt-ids)");
  cmd->add_option("--prompt-ids", a->prompt_ids, "Prompt as comma-separated token ids (default: none)")->excludes(p);
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "Tokens to generate (fewer at the end-of-sequence token; --no-stop)")
      ->check(positive());
  cmd->add_option("--temperature", a->temperature, "0 = greedy")->check(non_negative());
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass")->check(number_in(0, 1, "a number from 0 to 1"));
  cmd->add_option("--seed", a->seed, "Sampling seed (with --temperature > 0)");
  cmd->add_flag("--print-ids", a->print_ids, "Print token ids (one per line) instead of text");
  cmd->add_flag("--no-stop", a->no_stop, "Do not stop at the end-of-sequence token");
  add_compute_options(cmd, a->device, a->dtype, a->threads);
  cmd->callback([a] {
    torch::NoGradGuard ng;
    std::vector<int64_t> prompt;
    if (!a->prompt_ids.empty()) prompt = parse_token_ids("--prompt-ids", a->prompt_ids);  // before the model loads: fail fast
    auto model = load_model(a->model, a->device, a->dtype, a->threads);
    std::optional<Tokenizer> tok;
    if (a->prompt_ids.empty() || !a->print_ids) tok.emplace(Tokenizer::load(a->tokenizer.empty() ? a->model : a->tokenizer));

    if (a->prompt_ids.empty()) {
      for (int32_t id : tok->encode(a->prompt, /*add_special=*/true)) prompt.push_back(id);
    }
    if (prompt.empty()) fail("--prompt", "the prompt encodes to no tokens (give text or --prompt-ids)");

    GenerateOptions g;
    g.max_new_tokens = a->max_new_tokens;
    g.temperature = a->temperature;
    g.top_p = a->top_p;
    g.seed = a->seed;
    if (!a->no_stop) {
      g.stop_ids = model->config().eos_token_ids;
      if (tok && tok->eos_id()) g.stop_ids.push_back(*tok->eos_id());
    }
    check_generation(*model, {prompt}, g);  // before the prompt is echoed: an error comes alone
    std::optional<StreamDecoder> stream;
    if (!a->print_ids) {
      // Primed with the prompt so the first new token decodes in context (sentencepiece
      // tokenizers drop a word's leading space at the start of a text).
      stream.emplace(*tok, /*skip_special=*/true);
      stream->prime(std::vector<int32_t>(prompt.begin(), prompt.end()));
      std::cout << a->prompt << std::flush;
    }
    GenerateStats st;
    generate(*model, {prompt}, g, [&](int64_t, int64_t id) {
      if (a->print_ids) std::cout << id << "\n" << std::flush;
      else std::cout << stream->push(static_cast<int32_t>(id)) << std::flush;
    }, &st);
    // The text ends its line and reaches stdout before the speed line reaches stderr: through one
    // pipe (2>&1 | less) the unflushed newline came after the speed line, glued to the text.
    if (stream) std::cout << stream->finish() << "\n";
    std::cout << std::flush;
    fmt::print(stderr, "[prefill {} tokens: {:.1f} tokens/s | decode {} tokens: {:.1f} tokens/s]\n",
               st.prefill_tokens, st.prefill_tokens / std::max(st.prefill_seconds, 1e-9), st.decode_tokens,
               st.decode_tokens / std::max(st.decode_seconds, 1e-9));
  });
}

}  // namespace hyb::cli
