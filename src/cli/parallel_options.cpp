// cli/parallel_options: --gpus, --nnodes, --node-rank and --master, shared by the commands that
// spread over processes (distill, search, sft); see dist/launch.h.
#include <CLI/CLI.hpp>

#include <string>

#include "cli/checks.h"
#include "cli/commands.h"
#include "dist/launch.h"

namespace hyb::cli {

void add_parallel_options(CLI::App* cmd, dist::LaunchOptions& o, const std::string& what) {
  cmd->add_option("--gpus", o.gpus, "Processes on this host, one per GPU (cuda:0..N-1; on --device cpu N Gloo "
                                    "processes): " + what)
      ->check(number_in(1, 1024, "a process count from 1 to 1024"))->capture_default_str();
  cmd->add_option("--nnodes", o.nnodes, "Hosts running this same command, each with --gpus processes")
      ->check(number_in(1, 65536, "a host count from 1 to 65536"))->capture_default_str();
  cmd->add_option("--node-rank", o.node_rank, "This host's place among --nnodes (0 serves the rendezvous)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--master", o.master, "HOST:PORT of host 0's rendezvous (needed with --nnodes > 1; default: none)")
      ->check([](const std::string& v) -> std::string {
        const size_t colon = v.rfind(':');
        if (colon == std::string::npos || colon == 0) return "expected HOST:PORT, got '" + v + "'";
        const std::string port = v.substr(colon + 1);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(port) < 1 || std::stoi(port) > 65535)
          return "'" + port + "' is not a port (1-65535)";
        return "";
      });
  cmd->parse_complete_callback([&o] {
    if (o.node_rank >= o.nnodes)
      throw CLI::ValidationError("--node-rank", std::to_string(o.node_rank) + " is not below --nnodes " + std::to_string(o.nnodes));
    if (o.nnodes > 1 && o.master.empty())
      throw CLI::ValidationError("--master", "required with --nnodes " + std::to_string(o.nnodes) + " (host 0's HOST:PORT)");
  });
}

}  // namespace hyb::cli
