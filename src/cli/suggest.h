// cli/suggest: a misspelt command or flag reported as such, with the closest known name. Runs
// on argv before CLI11 parses it: CLI11 alone answers "hybridize distil" with "A subcommand is
// required" and "hybridize distill --mdoel x" with "--model is required", never naming the typo.
#pragma once
#include <CLI/CLI.hpp>

namespace hyb::cli {

// Throws hyb::Error naming the unknown command or flag and, where one is close (edit distance at
// most a third of its length, at least 1), the known name meant: "unknown command 'distil' (did
// you mean 'distill'?)", "distill: unknown flag --mdoel (did you mean --model?)". Tokens that are
// the value of a known option, and everything after "--", are not checked.
void check_known_names(const CLI::App& app, int argc, char** argv);

}  // namespace hyb::cli
