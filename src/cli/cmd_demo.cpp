// hybridize demo [--out DIR] [--quick] [--seed S]: the whole method on a synthetic world, in
// minutes on a laptop CPU, nothing downloaded (src/demo/demo.h, docs/demo.md).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/checks.h"
#include "cli/commands.h"
#include "demo/demo.h"
#include "demo/report.h"

namespace hyb::cli {

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo",
      "Distill-then-Replace end to end on a built-in synthetic world: pretrain a small teacher, distil, "
      "search per task, export, time decoding, report");
  auto o = std::make_shared<demo::DemoOptions>();
  auto out = std::make_shared<std::string>("demo-out");
  cmd->add_option("--out", *out, "Output directory (models, report.json, report.txt, SVG plots)");
  cmd->add_flag("--quick", o->quick, "Small and fast (under a minute, for CI): shows the steps, not the result");
  cmd->add_option("--seed", o->seed, "Seed of the world and of every initialisation");
  cmd->add_option("--threads", o->threads, "CPU threads (default: 1, fastest for this model size)")->check(thread_count());
  cmd->add_flag("!--no-progress", o->log, "No progress lines on stderr");
  cmd->callback([o, out] {
    o->out = *out;
    const auto report = demo::run_demo(*o);
    fmt::print("{}", demo::format_report(report));
    std::fflush(stdout);
  });
}

}  // namespace hyb::cli
