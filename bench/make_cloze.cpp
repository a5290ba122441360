// make_cloze --corpus tinystories_val.txt --out cloze.jsonl [--n 1000] [--distractors 3] [--seed 1234]
// Writes a TinyStories cloze task (eval/cloze.h) in the generic JSONL format, to score with
//   hybridize eval --model DIR --data cloze.jsonl
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "eval/cloze.h"
#include "eval/docs.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"Make a TinyStories cloze task (generic eval JSONL)"};
  std::string corpus, out;
  hyb::eval::ClozeOptions opt;
  app.add_option("--corpus", corpus, "TinyStories text (stories separated by blank lines)")->required();
  app.add_option("--out", out, "Output JSONL")->required();
  app.add_option("--n", opt.max_items, "Items (at most one per story)");
  app.add_option("--distractors", opt.distractors, "Wrong choices per item");
  app.add_option("--seed", opt.seed, "Random seed");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto items = hyb::eval::make_cloze(hyb::eval::read_text_file(corpus), opt);
    hyb::eval::write_cloze_jsonl(items, out);
    fmt::print("{} items -> {}\n", items.size(), out);
  } catch (const hyb::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
