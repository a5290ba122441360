// hybridize: turn a pretrained transformer into a task-specific hybrid of full- and
// linear-attention layers (Distill-then-Replace). See README.md for every command.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/suggest.h"
#include "util/error.h"
#include "util/version.h"

#include <torch/version.h>

namespace {
// "[rank R] " in one process of several (--gpus N, torchrun, srun: dist::worker_env), so that
// errors name their process.
std::string rank_prefix() {
  const char* r = std::getenv("HYB_RANK");
  if (!r && std::getenv("WORLD_SIZE")) r = std::getenv("RANK");
  if (!r && std::getenv("SLURM_NTASKS")) r = std::getenv("SLURM_PROCID");
  return r ? std::string("[rank ") + r + "] " : std::string();
}

// glibc serves allocations over 128 KiB-32 MiB (its adaptive threshold) with fresh mmap'd pages
// and gives freed heap back at once, so every training or scoring step page-faults its
// activations in anew: in `distill` on stories260K that was 28% of the wall time, all of it in
// the kernel (13 s of 46). Keep up to 32 MiB blocks (mallopt's maximum) on the heap and retain
// up to 1 GiB of freed memory for the next step. Only where the user has not tuned malloc.
void keep_freed_memory() {
  if (std::getenv("GLIBC_TUNABLES") || std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  // Past a file size limit (ulimit -f) write(2) fails with EFBIG, which the checked writes report
  // ("FILE: write failed: File too large", the temporary removed), instead of SIGXFSZ killing
  // the process mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"hybridize: distill, search and run hybrid full/linear-attention transformers"};
  app.set_version_flag("--version", fmt::format("hybridize {} (LibTorch {})", hyb::kVersion, TORCH_VERSION));
  app.require_subcommand(1);
  // Every option's default in --help (cli/grammar): captured as each is added to its command.
  app.option_defaults()->always_capture_default();
  hyb::cli::add_info(app);
  hyb::cli::add_generate(app);
  hyb::cli::add_tokenize(app);
  hyb::cli::add_random_model(app);
  hyb::cli::add_bench(app);
  hyb::cli::add_search(app);
  hyb::cli::add_export(app);
  hyb::cli::add_eval(app);
  hyb::cli::add_distill(app);
  hyb::cli::add_sft(app);
  hyb::cli::add_perplexity(app);
  hyb::cli::add_logits(app);
  hyb::cli::add_demo(app);
  try {
    // Old spellings of flags become their canonical names here (cli/grammar).
    const std::vector<std::string> args = hyb::cli::check_known_names(app, argc, argv);
    std::vector<char*> args_c;
    for (const auto& a : args) args_c.push_back(const_cast<char*>(a.c_str()));
    app.parse(static_cast<int>(args_c.size()), args_c.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const hyb::Error& e) {
    fmt::print(stderr, "{}error: {}\n", rank_prefix(), e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}error: {}\n", rank_prefix(), e.what());
    return 1;
  }
  return 0;
}
