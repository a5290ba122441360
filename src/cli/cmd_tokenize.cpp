// cmd_tokenize: `hybridize tokenize --model DIR [--text T [--lines] | stdin] [--ids|--pieces] [--no-special]`
// Encodes --text as one unit, newlines included (as transformers' tokenizer does; --lines: each of
// its lines apart), or each line of stdin, with DIR's tokenizer.json, and prints one JSON array per
// unit: token ids (default) or the tokens' vocabulary strings (--pieces).
//   $ hybridize tokenize --model ../shared/data/tokenizers/llama3 --text "Hello world"
//   [128000,9906,1917]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace hyb::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::optional<std::string> text;
  bool ids = false, pieces = false, no_special = false, lines = false;
};

void print_line(const Tokenizer& tok, const std::string& line, const TokenizeOptions& o) {
  const std::vector<int32_t> ids = tok.encode(line, /*add_special=*/!o.no_special);
  std::string out;
  if (o.pieces) {
    nlohmann::json arr = nlohmann::json::array();
    for (int32_t id : ids) arr.push_back(tok.piece(id));
    // Pieces come from tokenizer.json, so they are valid UTF-8; replace anything else anyway.
    out = arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    out = fmt::format("[{}]", fmt::join(ids, ","));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fputc('\n', stdout);
}

void run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tok = Tokenizer::load(o.model);
  if (o.text && !o.lines) return print_line(tok, *o.text, o);
  if (o.text) {
    size_t start = 0;
    for (size_t nl; (nl = o.text->find('\n', start)) != std::string::npos; start = nl + 1)
      print_line(tok, o.text->substr(start, nl - start), o);
    print_line(tok, o.text->substr(start), o);
    return;
  }
  for (std::string line; std::getline(std::cin, line);) print_line(tok, line, o);
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Encode text with a model's tokenizer: one JSON array for --text (newlines included), or one per "
                  "line of stdin");
  cmd->add_option("--model", o->model, "Model or tokenizer directory (holding tokenizer.json)")
      ->required();
  CLI::Option* text = cmd->add_option("--text", o->text, "Text to encode as one unit (default: each line of stdin)");
  cmd->add_flag("--lines", o->lines, "Encode each line of --text apart, one array per line")->needs(text);
  CLI::Option* ids = cmd->add_flag("--ids", o->ids, "Print token ids (the default)");
  CLI::Option* pieces = cmd->add_flag("--pieces", o->pieces, "Print tokens as JSON strings");
  ids->excludes(pieces);
  cmd->add_flag("--no-special", o->no_special, "Do not add BOS/EOS (HF add_special_tokens=False)");
  cmd->callback([o] { run_tokenize(*o); });
}

}  // namespace hyb::cli
