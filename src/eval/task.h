// eval/task: a task is data, interpreted by one engine (build_instances), as in
// lm-evaluation-harness: where its documents are, how a document becomes a prompt (templates of
// eval/template), its choices, its gold answer and its metrics. tasks.cpp holds the built-in
// entries; generic_task() makes one for a user's JSONL file (format in docs/eval.md).
//
// Requests, exactly as the harness builds them (zero-shot unless num_fewshot > 0):
//   multiple_choice     (description + fewshot + text,     " " + choice_i)  for every choice
//   multiple_context    (description + fewshot + choice_i, " " + target)    (Winogrande)
//   loglikelihood       (description + text,               target)          (LAMBADA)
// fewshot = the first n documents of the few-shot split, each text + " " + its gold choice,
// joined and followed by "\n\n" (a document never serves as its own example). Pure C++.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "eval/template.h"

namespace hyb::eval {

enum class OutputType { kMultipleChoice, kMultipleContext, kLoglikelihood };

// Where a document's choices come from: literal strings, one template per choice, or an
// expression that evaluates to a list.
struct ChoiceSpec {
  std::vector<std::string> literal;
  std::vector<std::string> templates;
  std::string list_expr;
};

struct TaskSpec {
  std::string name;
  OutputType output = OutputType::kMultipleChoice;
  std::string split;                 // the split scored by default (test if it has one, else validation)
  std::string fewshot_split;         // "" = the task has no few-shot examples
  std::string process;               // named per-document preprocessing ("" or "hellaswag")
  std::string description;           // template, prepended to every context
  std::string text;                  // template: doc_to_text
  ChoiceSpec choices;
  std::string gold;                  // template: an index, or a string found among the choices
  std::string target;                // template: the continuation (loglikelihood, multiple_context)
  std::vector<std::string> metrics;  // "acc", "acc_norm", "perplexity"
  std::filesystem::path data_file;   // set for a user's file (--data); else tasks_dir/name/split.*
};

struct Request {
  std::string context, continuation;
};

// One document's requests and what scoring needs to know about them.
struct Instance {
  int64_t doc_id = 0;               // index in the split's file order
  std::vector<Request> requests;    // one per choice (one for loglikelihood tasks)
  std::vector<std::string> choices; // choice texts without the delimiter (acc_norm lengths)
  int64_t gold = -1;                // index into requests; -1 for loglikelihood tasks
};

const std::vector<TaskSpec>& builtin_tasks();
// The built-in task called `name`, or a hyb::Error listing the known names.
const TaskSpec& find_task(const std::string& name);
// A task for a user's JSONL file: {"context", "choices", "gold"} lines (acc, acc_norm) or
// {"context", "continuation"} lines (perplexity, acc); the form is read from the first line.
TaskSpec generic_task(const std::string& name, const std::filesystem::path& file);
// What --task NAME [--data FILE] means in every command: without a file the built-in task (else
// find_task's error); with one, a built-in task's rules on the user's copy of its data, or the
// generic format for any other name.
TaskSpec resolve_task(const std::string& name, const std::string& data_file);
// --tasks-dir when given, else $HYB_TASKS_DIR, else ../shared/data/tasks (only a development
// checkout has it; a user gives one of the first two, and task_file says so when data is missing).
std::filesystem::path tasks_dir_or_default(const std::string& flag);

// The file holding `split` of a task: its data_file, else the first of
// tasks_dir/<name>/<split>.jsonl and tasks_dir/<name>/<split>_llamacpp_format.txt[.bz2].
std::filesystem::path task_file(const TaskSpec& task, const std::filesystem::path& tasks_dir,
                                const std::string& split);

// Documents of a split with the task's preprocessing applied (limit > 0: the first `limit`).
std::vector<Doc> load_task_docs(const TaskSpec& task, const std::filesystem::path& file, int64_t limit = 0);

// The engine: every document's requests. `fewshot_pool` holds the few-shot split's documents
// (in order) when num_fewshot > 0; `pool_is_eval_split` says whether it is the split scored.
std::vector<Instance> build_instances(const TaskSpec& task, const std::vector<Doc>& docs,
                                      const std::vector<Doc>& fewshot_pool = {}, int64_t num_fewshot = 0,
                                      bool pool_is_eval_split = false);

// A document's choice texts and gold index, by the task's rules (multiple-choice kinds).
std::vector<std::string> doc_choices(const TaskSpec& task, const Doc& doc);
int64_t doc_gold(const TaskSpec& task, const Doc& doc, const std::vector<std::string>& choices);

}  // namespace hyb::eval
