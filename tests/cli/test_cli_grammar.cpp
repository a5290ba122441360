// One command grammar (issue 17): every command's --help names the same things by the same flag
// (the table in src/cli/grammar.h and docs/cli.md, restated here from the issue: --batch-size,
// --max-new-tokens, --no-progress, --out, --device auto...), shows a default for every option that
// takes a value (or says it in words), and the old spellings still parse, reaching the same option.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../test_util.h"

namespace {

using hyb::test::run_command;

std::string run(const std::string& args, int& rc) {
  return run_command("'" + hyb::test::hybridize_binary().string() + "' " + args + " 2>&1", rc);
}

// The commands `hybridize --help` lists under "Subcommands:".
std::vector<std::string> commands() {
  int rc = 0;
  std::stringstream help(run("--help", rc));
  std::vector<std::string> out;
  bool in = false;
  for (std::string line; std::getline(help, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in = true;
      continue;
    }
    std::stringstream words(line);
    std::string name;
    if (in && words >> name) out.push_back(name);
  }
  return out;
}

struct HelpOption {
  std::string name, text;  // "--batch-size", its line(s) of help
  bool takes_value = false, has_default = false, required = false;
};

// The options of `hybridize <command> --help`: CLI11 prints "  --name TYPE=default ... description",
// the description on the next line when the name column is full.
std::map<std::string, HelpOption> help_options(const std::string& command) {
  int rc = 0;
  std::stringstream help(run(command + " --help", rc));
  std::map<std::string, HelpOption> out;
  HelpOption* last = nullptr;
  for (std::string line; std::getline(help, line);) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    if (start <= 4 && line.compare(start, 2, "--") == 0) {
      // "--name TYPE[:check]=default [REQUIRED] [Excludes: ...]", then two spaces or more and the
      // description (or the line ends and the description follows on the next).
      const std::string opts = line.substr(start, line.find("  ", start) - start);
      HelpOption o;
      o.name = opts.substr(0, opts.find_first_of(" {"));  // "--no-progress{false}": a negated flag
      std::stringstream words(opts.substr(o.name.size()));
      std::string type;  // INT, TEXT:{a,b}, FLOAT:a number > 0; not "Needs:" or "Excludes:"
      o.takes_value = words >> type && std::isupper(static_cast<unsigned char>(type[0])) && type.back() != ':';
      for (size_t eq = opts.find('='); eq != std::string::npos && !o.has_default; eq = opts.find('=', eq + 1))
        o.has_default = eq + 1 < opts.size() && opts[eq + 1] != ' ';
      o.required = line.find("REQUIRED") != std::string::npos;
      o.text = line;
      last = &(out[o.name] = o);
    } else if (last && start > 4) {
      last->text += " " + line.substr(start);  // the description on its own line
    } else {
      last = nullptr;
    }
  }
  return out;
}

bool mentions_default(const std::string& text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("default") != std::string::npos;
}

TEST(CliGrammar, EveryHelpUsesTheCanonicalNamesAndShowsDefaults) {
  HYB_REQUIRE_BINARY(bin);
  const std::vector<std::string> cmds = commands();
  ASSERT_GE(cmds.size(), 13u);
  // Where each concept exists (the list), under its one name.
  const std::map<std::string, std::set<std::string>> canonical = {
      {"--batch-size", {"distill", "sft", "perplexity", "eval", "bench"}},
      {"--max-new-tokens", {"generate", "bench"}},
      {"--no-progress", {"distill", "sft", "eval", "search", "perplexity", "bench", "demo"}},
      {"--out", {"distill", "sft", "search", "export", "demo", "random-model", "eval", "perplexity", "bench", "logits"}},
      {"--overwrite", {"eval", "perplexity", "bench", "logits"}},
      {"--tokenizer", {"distill", "eval", "generate", "perplexity", "search"}},
      {"--layers", {"distill", "perplexity", "export"}},
      {"--device", {"bench", "distill", "eval", "generate", "logits", "perplexity", "search", "sft"}},
  };
  const std::vector<std::string> old_names = {"--batch", "--new-tokens", "--no-log", "--json"};
  for (const auto& cmd : cmds) {
    const auto opts = help_options(cmd);
    EXPECT_FALSE(opts.empty()) << cmd;
    for (const auto& [flag, where] : canonical)
      EXPECT_EQ(opts.count(flag) > 0, where.count(cmd) > 0) << cmd << " " << flag;
    for (const auto& old : old_names) EXPECT_EQ(opts.count(old), 0u) << cmd << " lists the old spelling " << old;
    if (opts.count("--device")) {
      EXPECT_NE(opts.at("--device").text.find("=auto"), std::string::npos) << cmd;
    }
    for (const auto& [name, o] : opts) {
      if (o.takes_value && !o.required) {
        EXPECT_TRUE(o.has_default || mentions_default(o.text)) << cmd << " " << name << " shows no default:\n" << o.text;
      }
    }
  }
}

// The old spellings reach the canonical option: its range check answers, naming the canonical flag.
TEST(CliGrammar, OldSpellingsStillParse) {
  HYB_REQUIRE_BINARY(bin);
  const std::string distill = "distill --model /nonexistent --data x.txt --out /nonexistent/d ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bench --model /nonexistent --batch 0", "--batch-size: ("},
      {"bench --model /nonexistent --new-tokens 0", "--max-new-tokens: must be"},
      {distill + "--batch 0", "--batch-size: must be"},
      {distill + "--batch=0", "--batch-size: must be"},
      {"sft --model /nonexistent --out /nonexistent/s --batch 0", "--batch-size: must be"},
      {"perplexity --model /nonexistent --data x --batch 0", "--batch-size: must be"},
      {"demo --no-log --threads -1", "--threads: must be"},
      // An alias exists only where its canonical flag does.
      {"generate --model /nonexistent --prompt hi --batch 2", "error: generate: unknown flag --batch"},
  };
  for (const auto& [args, expected] : cases) {
    int rc = 0;
    const std::string out = run(args, rc);
    EXPECT_NE(rc, 0) << args;
    EXPECT_EQ(out.find(expected), 0u) << args << "\n" << out;
  }
}

// Old and new spellings end to end: perplexity's --json and --out write the same results file,
// --batch and --batch-size give the same numbers.
TEST(CliGrammar, PerplexityJsonIsOut) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(data, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = hyb::test::temp_dir("cli_grammar_ppl");
  const std::string base = "perplexity --model '" + model.string() + "' --data '" + data.string() +
                           "' --seq-len 32 --sequences 3 --device cpu --no-progress ";
  int rc = -1;
  run(base + "--batch 2 --json '" + (dir / "old.json").string() + "'", rc);
  EXPECT_EQ(rc, 0);
  run(base + "--batch-size 2 --out '" + (dir / "new.json").string() + "'", rc);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(std::filesystem::exists(dir / "old.json"));
  ASSERT_TRUE(std::filesystem::exists(dir / "new.json"));
  const auto old_j = nlohmann::json::parse(std::ifstream(dir / "old.json"));
  const auto new_j = nlohmann::json::parse(std::ifstream(dir / "new.json"));
  EXPECT_EQ(old_j["results"], new_j["results"]);
  EXPECT_EQ(new_j["sequences"], 3);
}

}  // namespace
