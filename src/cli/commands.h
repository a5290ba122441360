// cli: `hybridize <command>`. Each command lives in its own cmd_<name>.cpp as a thin layer over
// the library: it adds a CLI11 subcommand with its flags and a callback that runs it.
// main.cpp registers every command below and turns hyb::Error into "error: ..." + exit code 1.
#pragma once
#include <memory>
#include <string>

namespace CLI { class App; }
namespace hyb { class CausalLM; }
namespace hyb::dist { struct LaunchOptions; }

namespace hyb::cli {

// What every model-running command does with its --model, --device, --dtype and --threads:
// load the model there in that dtype ("" = the default for the device), then set the CPU
// threads for its size (util/threads).
std::unique_ptr<CausalLM> load_model(const std::string& dir, const std::string& device, const std::string& dtype,
                                     int threads);
// The --device, --dtype and --threads flags of those commands, one help text for all.
// Also adds --kernels (add_kernels_option).
void add_compute_options(CLI::App* cmd, std::string& device, std::string& dtype, int& threads);
// --kernels fused|reference: which implementation runs the linear modules' chunked forms on CUDA
// (linear/ops/dispatch.h); set process-wide as the flag is parsed.
void add_kernels_option(CLI::App* cmd);

// --gpus, --nnodes, --node-rank, --master (dist::LaunchOptions); `what` says what the processes
// share in this command, for --gpus's help.
void add_parallel_options(CLI::App* cmd, dist::LaunchOptions& o, const std::string& what);

void add_info(CLI::App& app);
void add_generate(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_random_model(CLI::App& app);
void add_bench(CLI::App& app);
void add_search(CLI::App& app);
void add_export(CLI::App& app);
void add_eval(CLI::App& app);
void add_distill(CLI::App& app);
void add_sft(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_logits(CLI::App& app);
void add_demo(CLI::App& app);

}  // namespace hyb::cli
