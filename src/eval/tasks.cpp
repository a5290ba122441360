// The built-in tasks: lm-evaluation-harness's zero-shot definitions (task YAMLs and utils.py),
// one entry each. See ../shared/docs/lm-eval-tasks.md for the rules they encode.
#include <fmt/format.h>

#include <cstdlib>

#include "eval/docs.h"
#include "eval/task.h"
#include "util/error.h"

namespace hyb::eval {

namespace {

const std::vector<std::string> kAcc = {"acc"}, kAccNorm = {"acc", "acc_norm"};

TaskSpec multiple_choice(std::string name, std::string split, std::string text, ChoiceSpec choices,
                         std::string gold, std::vector<std::string> metrics) {
  TaskSpec t;
  t.name = std::move(name);
  t.split = std::move(split);
  t.text = std::move(text);
  t.choices = std::move(choices);
  t.gold = std::move(gold);
  t.metrics = std::move(metrics);
  return t;
}

ChoiceSpec literal(std::vector<std::string> v) { return ChoiceSpec{std::move(v), {}, {}}; }
ChoiceSpec templates(std::vector<std::string> v) { return ChoiceSpec{{}, std::move(v), {}}; }
ChoiceSpec list(std::string expr) { return ChoiceSpec{{}, {}, std::move(expr)}; }

TaskSpec mmlu(const std::string& subject) {
  auto t = multiple_choice("mmlu_" + subject, "test",
                           "{question|strip}\nA. {choices.0}\nB. {choices.1}\nC. {choices.2}\nD. {choices.3}\nAnswer:",
                           literal({"A", "B", "C", "D"}), "{answer}", kAcc);
  t.description = "The following are multiple choice questions (with answers) about {subject|underscores_to_spaces}.\n\n";
  t.fewshot_split = "dev";
  return t;
}

std::vector<TaskSpec> make_builtin() {
  std::vector<TaskSpec> v;
  v.push_back(multiple_choice("arc_easy", "test", "Question: {question}\nAnswer:", list("choices.text"),
                              "{choices.label|index_of:answerKey}", kAccNorm));
  v.push_back(multiple_choice("arc_challenge", "test", "Question: {question}\nAnswer:", list("choices.text"),
                              "{choices.label|index_of:answerKey}", kAccNorm));
  v.push_back(multiple_choice("boolq", "validation", "{passage}\nQuestion: {question}?\nAnswer:",
                              literal({"no", "yes"}), "{label}", kAcc));
  v.push_back(multiple_choice("piqa", "validation", "Question: {goal}\nAnswer:", templates({"{sol1}", "{sol2}"}),
                              "{label}", kAccNorm));
  v.push_back(multiple_choice("openbookqa", "test", "{question_stem}", list("choices.text"),
                              "{choices.label|index_of:answerKey}", kAccNorm));
  v.push_back(multiple_choice("commonsense_qa", "validation",
                              "Question: {question|strip}\nA. {choices.text.0}\nB. {choices.text.1}\n"
                              "C. {choices.text.2}\nD. {choices.text.3}\nE. {choices.text.4}\nAnswer:",
                              literal({"A", "B", "C", "D", "E"}), "{answerKey}", kAcc));
  {
    // Reversed: the options complete the context, the rest of the sentence is scored.
    auto t = multiple_choice("winogrande", "validation", "",
                             templates({"{sentence|before:_}{option1}", "{sentence|before:_}{option2}"}),
                             "{answer|minus1}", kAcc);
    t.output = OutputType::kMultipleContext;
    t.target = "{sentence|after:_|strip}";
    v.push_back(t);
  }
  {
    auto t = multiple_choice("hellaswag", "validation", "{query}", list("choices"), "{label}", kAccNorm);
    t.process = "hellaswag";
    v.push_back(t);
  }
  {
    auto t = multiple_choice("lambada_openai", "test", "{text|drop_last_word}", {}, "", {"perplexity", "acc"});
    t.output = OutputType::kLoglikelihood;
    t.target = " {text|last_word}";
    v.push_back(t);
  }
  v.push_back(multiple_choice("mathqa", "test", "Question: {Problem}\nAnswer:", list("options|mathqa_options"),
                              "{correct|letter_index}", kAccNorm));
  v.push_back(mmlu("econometrics"));
  v.push_back(mmlu("marketing"));
  v.push_back(multiple_choice("pubmedqa", "test", "Abstract: {CONTEXTS|join:\n}\nQuestion: {QUESTION}\nAnswer:",
                              literal({"yes", "no", "maybe"}), "{final_decision}", kAcc));
  v.push_back(multiple_choice("sciq", "test", "{support|lstrip}\nQuestion: {question}\nAnswer:",
                              templates({"{distractor1}", "{distractor2}", "{distractor3}", "{correct_answer}"}),
                              "3", kAccNorm));
  v.push_back(multiple_choice("storycloze_2016", "test",
                              "{input_sentence_1} {input_sentence_2} {input_sentence_3} {input_sentence_4}",
                              templates({"{sentence_quiz1}", "{sentence_quiz2}"}), "{answer_right_ending|minus1}",
                              kAcc));
  return v;
}

}  // namespace

const std::vector<TaskSpec>& builtin_tasks() {
  static const std::vector<TaskSpec> tasks = make_builtin();
  return tasks;
}

const TaskSpec& find_task(const std::string& name) {
  std::string known;
  for (const auto& t : builtin_tasks()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  fail("--task", "unknown task '{}' (built-in: {}; or give --data FILE for your own)", name, known);
}

TaskSpec resolve_task(const std::string& name, const std::string& data_file) {
  if (data_file.empty()) return find_task(name);
  for (const auto& t : builtin_tasks())
    if (t.name == name) {  // a built-in task's rules on the user's copy of its data
      TaskSpec spec = t;
      spec.data_file = data_file;
      return spec;
    }
  return generic_task(name, data_file);
}

std::filesystem::path tasks_dir_or_default(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("HYB_TASKS_DIR")) return env;
  return std::filesystem::path("..") / "shared" / "data" / "tasks";
}

TaskSpec generic_task(const std::string& name, const std::filesystem::path& file) {
  auto first = read_docs(file, 1);
  if (first.empty()) fail(file.string(), "no documents (expected one JSON object per line)");
  const auto& f = first[0].fields;
  TaskSpec t;
  t.name = name;
  t.split = "data";
  t.data_file = file;
  t.text = "{context}";
  if (f.contains("choices")) {
    t.choices = list("choices");
    t.gold = "{gold}";
    t.metrics = kAccNorm;
  } else if (f.contains("continuation")) {
    t.output = OutputType::kLoglikelihood;
    t.target = "{continuation}";
    t.metrics = {"perplexity", "acc"};
  } else {
    fail(first[0].where, "expected {{\"context\", \"choices\", \"gold\"}} or {{\"context\", \"continuation\"}}");
  }
  return t;
}

}  // namespace hyb::eval
