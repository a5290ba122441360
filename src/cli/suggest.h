// cli/suggest: a misspelt command or flag reported as such, with the closest known name, and an
// old spelling of a flag (cli/grammar's aliases) turned into its canonical name. Runs on argv
// before CLI11 parses it: CLI11 alone answers "hybridize distil" with "A subcommand is required"
// and "hybridize distill --mdoel x" with "--model is required", never naming the typo.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace hyb::cli {

// Throws hyb::Error naming the unknown command or flag and, where one is close (edit distance at
// most a third of its length, at least 1), the known name meant: "unknown command 'distil' (did
// you mean 'distill'?)", "distill: unknown flag --mdoel (did you mean --model?)". Tokens that are
// the value of a known option, and everything after "--", are not checked. Returns argv with
// every alias the command knows (flag_aliases) replaced by its canonical flag ("--batch 8" and
// "--batch=8" become "--batch-size 8" and "--batch-size=8"): what CLI11 then parses.
std::vector<std::string> check_known_names(const CLI::App& app, int argc, char** argv);

}  // namespace hyb::cli
