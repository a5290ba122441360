// fuzz_task_jsonl: a user's task file as `eval --task NAME --data FILE` reads it: eval/task's
// resolve_task (a built-in task's rules on the user's copy of its data, or the generic
// {"context", "choices", "gold"} / {"context", "continuation"} format), load_task_docs (with the
// task's preprocessing) and build_instances (templates, choices, gold, few-shot examples).
// The first byte picks the task (its low 7 bits: the i-th built-in, or the generic format past
// the last) and, by its top bit, a file named like llama.cpp's HellaSwag text instead of a .jsonl; the rest is
// the file.
#include "eval/docs.h"
#include "eval/task.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& builtin = hyb::eval::builtin_tasks();
  const size_t pick = data[0] & 0x7f;
  const std::string name = pick < builtin.size() ? builtin[pick].name : "mytask";
  const auto path =
      hyb::fuzz::write_input((data[0] & 0x80) ? "data_llamacpp_format.txt" : "data.jsonl", data + 1, size - 1);
  hyb::fuzz::accept_or_refuse([&] {
    const hyb::eval::TaskSpec task = hyb::eval::resolve_task(name, path.string());
    const auto docs = hyb::eval::load_task_docs(task, path);
    (void)hyb::eval::build_instances(task, docs);
    (void)hyb::eval::build_instances(task, docs, docs, /*num_fewshot=*/2, /*pool_is_eval_split=*/true);
  });
  return 0;
}
