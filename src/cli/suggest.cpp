// cli/suggest: see suggest.h.
#include "cli/suggest.h"

#include <algorithm>
#include <string>
#include <vector>

#include "cli/grammar.h"
#include "util/error.h"

namespace hyb::cli {

namespace {

// Levenshtein distance (insertions, deletions, substitutions).
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within reach, else "".
std::string closest(const std::string& word, const std::vector<std::string>& known, const std::string& quote) {
  const std::string* best = nullptr;
  size_t best_d = 0;
  for (const auto& k : known) {
    const size_t d = edit_distance(word, k);
    if (!best || d < best_d) best = &k, best_d = d;
  }
  if (!best || best_d > std::max<size_t>(1, word.size() / 3)) return "";
  return " (did you mean " + quote + *best + (quote == "'" ? "'" : "") + "?)";
}

}  // namespace

std::vector<std::string> check_known_names(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (argc < 2) return args;
  const std::string first = argv[1];
  if (first.empty() || first[0] == '-') return args;  // --help, --version: CLI11's own
  const CLI::App* sub = nullptr;
  std::vector<std::string> commands;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(s->get_name());
    if (s->get_name() == first) sub = s;
  }
  if (!sub) fail("hybridize", "unknown command '{}'{}", first, closest(first, commands, "'"));

  std::vector<std::string> flags;  // the command's long names, with their dashes
  for (const CLI::Option* o : sub->get_options())
    for (const auto& n : o->get_lnames()) flags.push_back("--" + n);
  auto option = [&](const std::string& name) -> const CLI::Option* {
    for (const CLI::Option* c : sub->get_options())
      for (const auto& n : c->get_lnames())
        if ("--" + n == name) return c;
    return nullptr;
  };
  for (int i = 2; i < argc; ++i) {
    std::string& tok = args[i];
    if (tok == "--") break;
    if (tok.size() < 3 || tok.compare(0, 2, "--") != 0 || !std::isalpha(static_cast<unsigned char>(tok[2]))) continue;
    const size_t eq = tok.find('=');
    std::string name = tok.substr(0, eq);
    const CLI::Option* o = option(name);
    for (const auto& a : flag_aliases())
      if (!o && name == a.old_name && option(a.canonical)) {
        tok = a.canonical + (eq == std::string::npos ? "" : tok.substr(eq));
        name = a.canonical;
        o = option(name);
      }
    if (!o) fail(sub->get_name(), "unknown flag {}{}", name, closest(name, flags, ""));
    // A value-taking option given as "--name value": the next token is its value, whatever it looks like.
    if (eq == std::string::npos && o->get_items_expected_min() > 0) ++i;
  }
  return args;
}

}  // namespace hyb::cli
