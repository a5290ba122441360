// demo: `hybridize demo`, the whole of Distill-then-Replace on a laptop in minutes, nothing
// downloaded. The folder owns the synthetic world and everything the demo adds around the
// library's phases:
//
//   world, vocab    seeded text and multiple-choice tasks (long-range recall, two local tasks)
//   pretrain        a small Llama teacher trained from scratch on that text (CausalLM + autograd)
//   (distill/)      phase 1: a Gated DeltaNet module distilled for every layer (run_distill)
//   score           the tasks' accuracy by log-likelihood, the search's scorer
//   (search/)       phase 2: greedy replacement per task (run_search), export of M_opt (export_hybrid)
//   decode_speed    phase 3: decoding throughput of the teacher and the hybrids at long contexts
//   report          report.json, report.txt and the SVG plots
//   demo.cpp        the pipeline
//
// What it shows: the layers a task lets go are task-specific. Recall keeps full-attention layers
// (the ones that look a key up far back) that the local tasks give up. See docs/demo.md.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>

namespace hyb::demo {

struct DemoOptions {
  std::filesystem::path out = "demo-out";
  bool quick = false;  // a smaller run (CI): same steps, smaller model and budgets
  uint64_t seed = 0;
  int threads = 0;  // 0: util/threads default (one thread for this width)
  bool log = true;  // progress lines on stderr
};

// Runs the demo into opt.out:
//   teacher/            the pretrained teacher (a model directory with tokenizer.json)
//   corpus/             the world's text as the distiller reads it (train.txt, eval.txt)
//   distill/            `hybridize distill`'s output: linear.safetensors (every layer), metrics, plots
//   search/<task>.json  each task's search summary; search/<task>.jsonl its score journal
//   hybrids/<task>/     each task's M_opt hybrid, exported (loads like any model)
//   tasks/<task>.jsonl  the evaluation questions as {"context", "choices", "gold"} lines
//   tasks/<task>_train.jsonl  as many questions of an independent draw, for `hybridize sft`
//   report.json, report.txt, search.svg, placement.svg, decode.svg
// and returns the report (report.json's content).
nlohmann::json run_demo(const DemoOptions& opt);

}  // namespace hyb::demo
