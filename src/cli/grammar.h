// cli/grammar: one command grammar. The same thing has the same flag in every command; this is the
// canonical spelling of each (docs/cli.md shows the table to users):
//
//   what                                   flag                         commands
//   model directory to run or start from   --model DIR                  all but random-model
//   tokenizer, when not the model's        --tokenizer DIR|FILE         distill eval generate perplexity search
//   text data files (globs)                --data FILE...               distill perplexity (eval, search, sft: a task file)
//   where the result goes                  --out PATH                   every command that writes: a directory where
//                                                                       it writes several files (distill, search,
//                                                                       sft, export, demo, random-model), else a file
//                                                                       (eval, perplexity and bench JSON, logits)
//   replace an existing result file        --overwrite                  eval perplexity bench logits (a directory is
//                                                                       never replaced: new or empty, or --resume)
//   sequences or requests per step         --batch-size N               distill sft perplexity eval bench
//   tokens to generate or decode           --max-new-tokens N           generate bench
//   layers (lists and ranges: 0-2,5)       --layers SPEC                distill perplexity export
//   device, default auto (CUDA if any)     --device auto|cpu|cuda[:N]   every model-running command
//   compute dtype, CPU threads             --dtype, --threads           every model-running command
//   no progress bar on stderr              --no-progress                distill sft eval search perplexity bench demo
//   continue an interrupted run            --resume                     distill sft search
//
// Every option that takes a value shows its default in --help (main captures them all), or says it
// in words where it depends on something else ("default: the model's").
//
// Old spellings keep working as hidden aliases: check_known_names rewrites them to the canonical
// flag before CLI11 parses (so --help, errors and "did you mean" speak only canonical names).
#pragma once
#include <string>
#include <vector>

namespace hyb::cli {

struct FlagAlias {
  std::string old_name, canonical;
};

// An alias is rewritten in a command that has the canonical flag (elsewhere it is an unknown flag).
inline const std::vector<FlagAlias>& flag_aliases() {
  static const std::vector<FlagAlias> aliases = {
      {"--batch", "--batch-size"},         // distill, sft, perplexity, bench before issue 17
      {"--new-tokens", "--max-new-tokens"},  // bench
      {"--no-log", "--no-progress"},       // demo
      {"--json", "--out"},                 // perplexity
  };
  return aliases;
}

}  // namespace hyb::cli
