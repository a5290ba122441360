// bench_tokenizer: load time and single-thread encode speed (MB/s of input text) of the Qwen2 and
// Llama-3 tokenizers (and Llama-2 for comparison) on wikitext-2's test split.
//   $ ./build/bench_tokenizer [SHARED_DATA_DIR]     (default ../shared/data, run from the root)
// "cold" encodes the file once with a freshly loaded tokenizer (empty word cache); "warm" repeats
// it (best of 3); "lines" encodes line by line, as a data loader would. Speeds are MB of input per
// second of this process's CPU time, which a busy shared machine distorts less than wall time;
// the wall-clock speed of the warm run is printed beside it.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Wall-clock and CPU seconds of one call.
struct Timing {
  double wall, cpu;
};
template <typename F>
static Timing timed(F&& f) {
  const auto w0 = Clock::now();
  const std::clock_t c0 = std::clock();
  f();
  return {std::chrono::duration<double>(Clock::now() - w0).count(),
          static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC};
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
  fmt::print("{:<8} {:>12} {:>9} {:>10} {:>10} {:>15} {:>10}\n", "name", "load_s", "tokens", "cold_MB/s",
             "warm_MB/s", "warm_MB/s_wall", "lines_MB/s");
  fmt::print("{:<8} {:>12}\n", "", "(cpu/wall)");

  for (const char* name : {"qwen2", "llama3", "llama2"}) {
    std::unique_ptr<hyb::Tokenizer> tok;
    Timing load{};
    try {
      load = timed([&] { tok = std::make_unique<hyb::Tokenizer>(hyb::Tokenizer::load(data / "tokenizers" / name)); });
    } catch (const hyb::Error& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    }

    size_t n_tokens = 0;
    const Timing cold = timed([&] { n_tokens = tok->encode(text, false).size(); });
    Timing warm{1e9, 1e9};
    for (int rep = 0; rep < 3; ++rep) {
      const Timing t = timed([&] { n_tokens = tok->encode(text, false).size(); });
      warm = {std::min(warm.wall, t.wall), std::min(warm.cpu, t.cpu)};
    }
    size_t n_line_tokens = 0;
    const Timing per_line = timed([&] {
      for (const std::string& l : lines) n_line_tokens += tok->encode(l, false).size();
    });

    fmt::print("{:<8} {:>5.3f}/{:<6.3f} {:>9} {:>10.1f} {:>10.1f} {:>15.1f} {:>10.1f}\n", name, load.cpu,
               load.wall, n_tokens, mb / cold.cpu, mb / warm.cpu, mb / warm.wall, mb / per_line.cpu);
  }
  return 0;
}
