// The engine that turns a task entry and its documents into the harness's requests.
#include "eval/task.h"

#include "eval/docs.h"
#include "eval/text.h"
#include "util/error.h"

namespace hyb::eval {

namespace fs = std::filesystem;

fs::path task_file(const TaskSpec& task, const fs::path& tasks_dir, const std::string& split) {
  if (!task.data_file.empty()) return task.data_file;
  const fs::path dir = tasks_dir / task.name;
  for (const auto& name : {split + ".jsonl", split + "_llamacpp_format.txt.bz2", split + "_llamacpp_format.txt"})
    if (fs::is_regular_file(dir / name)) return dir / name;
  fail((dir / (split + ".jsonl")).string(),
       "task data not found (give --tasks-dir DIR holding <task>/<split>.jsonl, or --data FILE)");
}

std::vector<Doc> load_task_docs(const TaskSpec& task, const fs::path& file, int64_t limit) {
  auto docs = read_docs(file, limit);
  if (task.process == "hellaswag") {
    // The harness's hellaswag process_docs: query and choices, preprocessed.
    for (auto& d : docs) {
      const std::string ctx = render("{ctx_a} {ctx_b|capitalize}", d);
      d.fields["query"] = hellaswag_preprocess(render("{activity_label}: ", d) + ctx);
      d.fields["choices"] = evaluate("endings|hellaswag", d);
    }
  } else if (!task.process.empty()) {
    fail(task.name, "unknown document preprocessing '{}'", task.process);
  }
  return docs;
}

std::vector<std::string> doc_choices(const TaskSpec& task, const Doc& doc) {
  const ChoiceSpec& c = task.choices;
  if (!c.literal.empty()) return c.literal;
  std::vector<std::string> out;
  if (!c.templates.empty()) {
    for (const auto& t : c.templates) out.push_back(render(t, doc));
    return out;
  }
  const auto v = evaluate(c.list_expr, doc);
  if (!v.is_array() || v.empty()) fail(doc.where, "'{}' must be a non-empty list of strings", c.list_expr);
  for (const auto& e : v) {
    if (!e.is_string()) fail(doc.where, "'{}' must be a list of strings, has {}", c.list_expr, e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

int64_t doc_gold(const TaskSpec& task, const Doc& doc, const std::vector<std::string>& choices) {
  // As the harness's doc_to_target: a string of digits is an index, other text names a choice.
  const std::string g = render(task.gold, doc);
  int64_t gold = -1;
  if (const auto index = digits_value(g, doc)) {
    gold = *index;
  } else {
    for (size_t i = 0; i < choices.size() && gold < 0; ++i)
      if (choices[i] == g) gold = static_cast<int64_t>(i);
    if (gold < 0) fail(doc.where, "gold answer '{}' is not one of the choices", g);
  }
  if (gold < 0 || gold >= static_cast<int64_t>(choices.size()))
    fail(doc.where, "gold index {} is outside the {} choices", gold, choices.size());
  return gold;
}

namespace {

// The few-shot block before a document: the first n examples of the pool, "text answer" each,
// joined and followed by "\n\n" (the harness's first_n sampler and fewshot_delimiter).
std::string fewshot_block(const TaskSpec& task, const Doc& doc, const std::vector<Doc>& pool, int64_t n,
                          bool same_split) {
  std::string out;
  int64_t taken = 0;
  const size_t candidates = std::min(pool.size(), static_cast<size_t>(n + (same_split ? 1 : 0)));
  for (size_t i = 0; i < candidates && taken < n; ++i) {
    if (same_split && pool[i].fields == doc.fields) continue;
    const auto choices = doc_choices(task, pool[i]);
    out += render(task.text, pool[i]) + " " + choices.at(doc_gold(task, pool[i], choices)) + "\n\n";
    ++taken;
  }
  if (taken < n) fail(task.name, "--num-fewshot {}: the {} split has only {} examples", n, task.fewshot_split, taken);
  return out;
}

}  // namespace

std::vector<Instance> build_instances(const TaskSpec& task, const std::vector<Doc>& docs,
                                      const std::vector<Doc>& pool, int64_t num_fewshot, bool same_split) {
  if (num_fewshot > 0 && (task.fewshot_split.empty() || task.output != OutputType::kMultipleChoice))
    fail("--num-fewshot", "task {} has no few-shot split (only zero-shot is defined for it)", task.name);
  std::vector<Instance> out;
  out.reserve(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    const Doc& doc = docs[i];
    Instance inst;
    inst.doc_id = static_cast<int64_t>(i);
    std::string prefix = task.description.empty() ? "" : render(task.description, doc);
    if (num_fewshot > 0) prefix += fewshot_block(task, doc, pool, num_fewshot, same_split);
    switch (task.output) {
      case OutputType::kMultipleChoice: {
        inst.choices = doc_choices(task, doc);
        inst.gold = doc_gold(task, doc, inst.choices);
        const std::string ctx = prefix + render(task.text, doc);
        for (const auto& c : inst.choices) inst.requests.push_back({ctx, " " + c});
        break;
      }
      case OutputType::kMultipleContext: {
        inst.choices = doc_choices(task, doc);
        inst.gold = doc_gold(task, doc, inst.choices);
        const std::string cont = " " + render(task.target, doc);
        for (const auto& c : inst.choices) inst.requests.push_back({prefix + c, cont});
        break;
      }
      case OutputType::kLoglikelihood:
        inst.requests.push_back({prefix + render(task.text, doc), render(task.target, doc)});
        break;
    }
    out.push_back(std::move(inst));
  }
  return out;
}

}  // namespace hyb::eval
