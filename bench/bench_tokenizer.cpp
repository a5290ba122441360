// bench_tokenizer: load time and single-thread encode speed (MB/s of input text) of the Qwen2 and
// Llama-3 tokenizers (and Llama-2 for comparison) on wikitext-2's test split.
//   $ ./build/bench_tokenizer [SHARED_DATA_DIR]     (default ../shared/data, run from the root)
// "cold" encodes the file once with a freshly loaded tokenizer (empty word cache); "warm" repeats
// it; "lines" encodes line by line, as a data loader would.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  const fs::path data = argc > 1 ? fs::path(argv[1]) : fs::path("../shared/data");
  const fs::path corpus = data / "corpora/wikitext2_raw/wiki.test.raw";
  std::ifstream in(corpus, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "error: {}: cannot open (pass the shared data directory)\n", corpus.string());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> lines;
  for (size_t i = 0, nl; i < text.size(); i = nl + 1) {
    nl = text.find('\n', i);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(i, nl - i + (nl < text.size())));
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  fmt::print("corpus: {} ({:.2f} MB, {} lines), 1 thread\n", corpus.string(), mb, lines.size());
  fmt::print("{:<8} {:>9} {:>9} {:>11} {:>11} {:>11}\n", "name", "load_s", "tokens", "cold_MB/s",
             "warm_MB/s", "lines_MB/s");

  for (const char* name : {"qwen2", "llama3", "llama2"}) {
    auto t0 = Clock::now();
    const hyb::Tokenizer tok = hyb::Tokenizer::load(data / "tokenizers" / name);
    const double load_s = seconds_since(t0);

    t0 = Clock::now();
    const size_t n_tokens = tok.encode(text, false).size();
    const double cold = mb / seconds_since(t0);

    double warm = 0;
    for (int rep = 0; rep < 3; ++rep) {  // best of 3
      t0 = Clock::now();
      volatile size_t n = tok.encode(text, false).size();
      (void)n;
      warm = std::max(warm, mb / seconds_since(t0));
    }

    t0 = Clock::now();
    size_t n_line_tokens = 0;
    for (const std::string& l : lines) n_line_tokens += tok.encode(l, false).size();
    const double per_line = mb / seconds_since(t0);
    (void)n_line_tokens;

    fmt::print("{:<8} {:>9.3f} {:>9} {:>11.1f} {:>11.1f} {:>11.1f}\n", name, load_s, n_tokens, cold,
               warm, per_line);
  }
  return 0;
}
