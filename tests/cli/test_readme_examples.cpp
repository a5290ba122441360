// README.md's examples run as written on the shipped data: every `hybridize` command in the README's
// ```sh blocks is run, in README order, in a fresh directory laid out like a development checkout
// (build/hybridize, the repository's files, ../shared beside it), with stories260K from
// ../shared/data. A command that fails fails the test, naming it.
//
// The only changes made to a command (so that the suite stays fast) are the size settings below:
// a number after one of these flags is lowered to its cap (each flag under every spelling it has or
// had, so README may use either), and a command that sets no size of its own gets a small one
// (kAddedSizes: the demo's --quick, a token budget for sft, perplexity's sequences, search's documents). A block that cannot run here (another model, several hosts) is
// preceded by the line `<!-- readme-test: skip: REASON -->`; its commands are listed, not run. A
// `hybridize` in a block that is not skipped and not at the start of its line (a loop, a launcher)
// fails the test: such a block must say why it is skipped. HYB_README_LOG=FILE appends each command
// run and what it printed to FILE: a transcript of the README's workflow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "../test_util.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;

struct Example {
  int line = 0;         // README line where the command starts
  std::string command;  // continuation lines joined
  std::string skip;     // the block's reason not to run, or ""
};

// Caps of the size settings: (spellings, largest value run by the test).
const std::vector<std::pair<std::vector<std::string>, long>> kSizeCaps = {
    {{"--tokens"}, 20000},                          // distill / sft training tokens
    {{"--limit", "--eval-limit"}, 20},              // documents scored
    {{"--max-new-tokens", "--new-tokens"}, 16},     // generated tokens
    {{"--epochs"}, 1},
    {{"--sequences"}, 4},                           // perplexity's held-out sequences
};

// Size settings added to a subcommand that gives none of them: (subcommand, flags it may already
// give, what is added).
const std::vector<std::tuple<std::string, std::vector<std::string>, std::string>> kAddedSizes = {
    {"demo", {"--quick"}, "--quick"},
    {"sft", {"--tokens", "--epochs"}, "--tokens 20000"},
    {"perplexity", {"--sequences"}, "--sequences 4"},
    {"search", {"--limit"}, "--limit 40"},
};

std::string shrink(std::string cmd) {
  for (const auto& [sub, given, added] : kAddedSizes) {
    if (!std::regex_search(cmd, std::regex("^(build/)?hybridize\\s+" + sub + "\\b"))) continue;
    bool has = false;
    for (const auto& g : given) has = has || std::regex_search(cmd, std::regex("\\s" + g + "(\\s|=|$)"));
    if (!has) cmd += " " + added;
  }
  for (const auto& [names, cap] : kSizeCaps)
    for (const auto& name : names) {
      const std::regex flag("(" + name + R"()(\s+|=)(\d+)\b)");
      std::string out;
      auto it = std::sregex_iterator(cmd.begin(), cmd.end(), flag);
      size_t last = 0;
      for (; it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        out += cmd.substr(last, m.position() - last);
        out += m[1].str() + m[2].str() + std::to_string(std::min(std::stol(m[3].str()), cap));
        last = m.position() + m.length();
      }
      cmd = out + cmd.substr(last);
    }
  return cmd;
}

std::vector<Example> readme_examples(const fs::path& readme, std::vector<std::string>& errors) {
  std::ifstream in(readme);
  std::vector<Example> out;
  std::string line, last_text, skip, pending;
  bool in_block = false, sh = false;
  int n = 0, start = 0;
  const std::regex skip_marker(R"(<!--\s*readme-test:\s*skip:?\s*(.*?)\s*-->)");
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("```", 0) == 0) {
      if (!in_block) {
        const std::string lang = line.substr(3);
        sh = lang == "sh" || lang == "bash";
        std::smatch m;
        skip = std::regex_search(last_text, m, skip_marker) ? (m[1].str().empty() ? "skipped" : m[1].str()) : "";
      }
      in_block = !in_block;
      continue;
    }
    if (!in_block) {
      if (!line.empty()) last_text = line;
      continue;
    }
    if (!sh) continue;
    if (pending.empty()) start = n;
    const bool continues = !line.empty() && line.back() == '\\';
    pending += continues ? line.substr(0, line.size() - 1) : line;
    if (continues) continue;
    std::string cmd = std::regex_replace(pending, std::regex(R"(^\s+|\s+$)"), "");
    pending.clear();
    if (cmd.empty() || cmd[0] == '#') continue;
    if (cmd.rfind("build/hybridize ", 0) == 0 || cmd.rfind("hybridize ", 0) == 0) {
      out.push_back({start, cmd, skip});
    } else if (skip.empty() && std::regex_search(cmd, std::regex(R"((^|[\s/])hybridize\s)"))) {
      errors.push_back(fmt::format("README.md:{}: a hybridize command the test cannot run by itself: {} (put "
                                   "`<!-- readme-test: skip: REASON -->` before its block)", start, cmd));
    }
  }
  return out;
}

TEST(ReadmeExamples, SizeCapsLowerOnlyTheNumbers) {
  EXPECT_EQ(shrink("build/hybridize distill --tokens 2000000 --seq-len 256 --batch 16"),
            "build/hybridize distill --tokens 20000 --seq-len 256 --batch 16");
  EXPECT_EQ(shrink("x --max-new-tokens 64 --limit=200 --eval-limit 5"), "x --max-new-tokens 16 --limit=20 --eval-limit 5");
  EXPECT_EQ(shrink("x --new-tokens 64 --tokens-per-step 9"), "x --new-tokens 16 --tokens-per-step 9");
  EXPECT_EQ(shrink("build/hybridize demo --out out/demo"), "build/hybridize demo --out out/demo --quick");
  EXPECT_EQ(shrink("hybridize sft --model m --epochs 3"), "hybridize sft --model m --epochs 1");
  EXPECT_EQ(shrink("hybridize sft --model m"), "hybridize sft --model m --tokens 20000");
}

TEST(ReadmeExamples, EveryCommandRuns) {
  HYB_REQUIRE_SHARED(data, "data/models/stories260K/hf");
  HYB_REQUIRE_BINARY(bin);
  const fs::path root = test::project_root();
  std::vector<std::string> errors;
  const std::vector<Example> examples = readme_examples(root / "README.md", errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
  ASSERT_GE(examples.size(), 8u) << "README.md: fewer examples than expected; was the parser broken?";

  // A development checkout's shape: the repository's files, build/hybridize, ../shared.
  const fs::path tmp = test::temp_dir("readme_examples"), checkout = tmp / "checkout";
  fs::create_directories(checkout / "build");
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name == "build" || name == "out" || name[0] == '.' || name.rfind("build-", 0) == 0) continue;
    fs::create_directory_symlink(entry.path(), checkout / name);
  }
  fs::create_symlink(fs::absolute(bin), checkout / "build" / "hybridize");
  // data is SHARED/data/models/stories260K/hf: SHARED is four levels up.
  fs::create_directory_symlink(fs::absolute(data).parent_path().parent_path().parent_path().parent_path(),
                               tmp / "shared");

  int ran = 0;
  for (const auto& e : examples) {
    if (!e.skip.empty()) {
      std::printf("README.md:%d: not run (%s): %s\n", e.line, e.skip.c_str(), e.command.c_str());
      continue;
    }
    const std::string cmd = shrink(e.command);
    std::printf("README.md:%d: %s\n", e.line, cmd.c_str());
    std::fflush(stdout);
    int rc = 0;
    const std::string log = test::run_command("cd '" + checkout.string() + "' && PATH=\"$PWD/build:$PATH\" " + cmd +
                                                  " </dev/null 2>&1",
                                              rc);
    ++ran;
    if (const char* transcript = std::getenv("HYB_README_LOG"))  // every command with what it printed
      std::ofstream(transcript, std::ios::app) << "$ " << cmd << "\n" << log << "(exit " << rc << ")\n\n";
    if (rc != 0) {
      ADD_FAILURE() << "README.md:" << e.line << " exits " << rc << ": " << cmd << "\n"
                    << (log.size() > 4000 ? "..." + log.substr(log.size() - 4000) : log);
      break;  // later examples read this one's output
    }
  }
  EXPECT_GT(ran, 0);
}

}  // namespace
}  // namespace hyb
