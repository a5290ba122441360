// The task machinery on hand-written inputs: Python string semantics, the template language,
// MathQA's option regex, the generic JSONL format and strict errors naming file and line.
#include <gtest/gtest.h>

#include <fstream>

#include "../test_util.h"
#include "eval/docs.h"
#include "eval/task.h"
#include "eval/text.h"
#include "util/error.h"

namespace hyb::eval {
namespace {
using test::error_of;

std::filesystem::path write_file(const std::string& test, const std::string& name, const std::string& text) {
  auto p = test::temp_dir(test) / name;
  std::ofstream(p) << text;
  return p;
}

TEST(EvalText, PythonStripAndLength) {
  EXPECT_EQ(py_strip(" \t\n x y \r\n"), "x y");
  EXPECT_EQ(py_rstrip("Answer:\u00a0\u3000 "), "Answer:");  // NBSP and ideographic space are whitespace
  EXPECT_EQ(py_lstrip("\u2003x"), "x");
  EXPECT_EQ(py_rstrip("caf\u00e9"), "caf\u00e9");  // é's bytes are not whitespace
  EXPECT_EQ(code_points("caf\u00e9"), 4u);
  EXPECT_EQ(code_points("\u65e5\u672c\u8a9e"), 3u);
  EXPECT_EQ(code_points("\xf0\x9f\x98\x80!"), 2u);  // an emoji is one code point
  EXPECT_EQ(py_capitalize("the MAN"), "The man");
  EXPECT_EQ(remove_bracketed("a [x] b [y\n] c [z"), "a  b [y\n] c [z");
  EXPECT_EQ(split("a  b", " "), (std::vector<std::string>{"a", "", "b"}));
}

TEST(EvalTemplate, PathsAndFilters) {
  Doc d{nlohmann::json::parse(R"({"q": "  Why? ", "c": {"text": ["x", "y"], "label": ["A", "B"]}, "k": " B",
                                   "s": "So _ won.", "l": ["p", "q"], "n": 3, "subject": "high_school_x"})"),
        "mem:1"};
  EXPECT_EQ(render("Q: {q|strip}|{c.text.1}|{n}", d), "Q: Why?|y|3");
  EXPECT_EQ(render("{l|join:, }", d), "p, q");
  EXPECT_EQ(render("{c.label|index_of:k}", d), "1");
  EXPECT_EQ(render("{s|before:_}[{s|after:_|strip}]", d), "So [won.]");
  EXPECT_EQ(render("{subject|underscores_to_spaces} {{x}}", d), "high school x {x}");
  EXPECT_EQ(render("{n|minus1}", d), "2");
  EXPECT_NE(error_of([&] { render("{missing}", d); }).find("mem:1"), std::string::npos);
  EXPECT_NE(error_of([&] { render("{q|nosuchfilter}", d); }).find("nosuchfilter"), std::string::npos);
}

TEST(EvalTemplate, HarnessHelpers) {
  // Python: strip first, so the space left by "[header]" stays; "   " -> "  " (one replace pass).
  EXPECT_EQ(hellaswag_preprocess(" [header] How to x [title] Do y.  [step] Z "), " How to x. Do y.  Z");
  EXPECT_EQ(mathqa_options("a ) 38 , b ) 27.675 , c ) 30 , d ) data inadequate , e ) none of these"),
            (std::vector<std::string>{"38", "27.675", "30", "data inadequate", "none of these"}));
  // Commas inside an option end it early, exactly as the harness's regex does.
  EXPECT_EQ(mathqa_options("a ) 1 , 2 , b ) 3 , c ) 4 , d ) 5 , e ) 6"),
            (std::vector<std::string>{"1", "3", "4", "5", "6"}));
}

TEST(EvalFormat, GenericMultipleChoice) {
  auto f = write_file("generic_mc", "mine.jsonl",
                      "{\"context\": \"The sky is\", \"choices\": [\"blue\", \"green\"], \"gold\": 0}\n\n"
                      "{\"context\": \"Grass is \", \"choices\": [\"blue\", \"green\"], \"gold\": 1}\n");
  TaskSpec t = generic_task("mine", f);
  EXPECT_EQ(t.metrics, (std::vector<std::string>{"acc", "acc_norm"}));
  auto inst = build_instances(t, load_task_docs(t, task_file(t, "", "")));
  ASSERT_EQ(inst.size(), 2u);
  EXPECT_EQ(inst[0].requests[1].context, "The sky is");
  EXPECT_EQ(inst[0].requests[1].continuation, " green");
  EXPECT_EQ(inst[1].gold, 1);
  EXPECT_EQ(inst[1].doc_id, 1);
}

TEST(EvalFormat, GenericLoglikelihood) {
  auto f = write_file("generic_ll", "ll.jsonl", "{\"context\": \"Once upon a\", \"continuation\": \" time\"}\n");
  TaskSpec t = generic_task("ll", f);
  EXPECT_EQ(t.output, OutputType::kLoglikelihood);
  auto inst = build_instances(t, load_task_docs(t, f));
  ASSERT_EQ(inst[0].requests.size(), 1u);
  EXPECT_EQ(inst[0].requests[0].continuation, " time");
}

TEST(EvalFormat, MalformedFilesNameFileAndLine) {
  auto bad_json = write_file("bad_json", "t.jsonl",
                             "{\"context\": \"a\", \"choices\": [\"x\"], \"gold\": 0}\n{\"context\": \"b\", \"choices\": [\n");
  TaskSpec t = generic_task("t", bad_json);
  const std::string e1 = error_of([&] { load_task_docs(t, bad_json); });
  EXPECT_NE(e1.find(bad_json.string() + ":2"), std::string::npos) << e1;

  auto no_gold = write_file("no_gold", "t.jsonl",
                            "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n"
                            "{\"context\": \"b\", \"choices\": [\"x\", \"y\"]}\n");
  t = generic_task("t", no_gold);
  const std::string e2 = error_of([&] { build_instances(t, load_task_docs(t, no_gold)); });
  EXPECT_NE(e2.find(no_gold.string() + ":2"), std::string::npos) << e2;
  EXPECT_NE(e2.find("gold"), std::string::npos) << e2;

  auto far_gold = write_file("far_gold", "t.jsonl", "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 2}\n");
  t = generic_task("t", far_gold);
  const std::string e3 = error_of([&] { build_instances(t, load_task_docs(t, far_gold)); });
  EXPECT_NE(e3.find(far_gold.string() + ":1"), std::string::npos) << e3;

  auto not_object = write_file("not_object", "t.jsonl", "[1, 2]\n");
  EXPECT_NE(error_of([&] { read_docs(not_object); }).find(":1"), std::string::npos);
  auto neither = write_file("neither", "t.jsonl", "{\"text\": \"a\"}\n");
  EXPECT_NE(error_of([&] { generic_task("t", neither); }).find(":1"), std::string::npos);
  EXPECT_NE(error_of([&] { read_docs("/nonexistent/x.jsonl"); }).find("/nonexistent/x.jsonl"), std::string::npos);
}

TEST(EvalFormat, HellaSwagTextFormat) {
  auto f = write_file("hs_text", "validation_llamacpp_format.txt",
                      "Sports: A man runs. the man\n2\njumps.\nsits [x].\nfalls.\nrolls.\n"
                      "Home: How to cook. Boil water.\n0\na\nb\nc\nd\n");
  const TaskSpec& t = find_task("hellaswag");
  auto inst = build_instances(t, load_task_docs(t, f));
  ASSERT_EQ(inst.size(), 2u);
  EXPECT_EQ(inst[0].requests[0].context, "Sports: A man runs. The man");
  EXPECT_EQ(inst[0].requests[1].continuation, " sits .");  // preprocess drops "[x]"
  EXPECT_EQ(inst[0].gold, 2);
  EXPECT_EQ(inst[1].requests[0].context, "Home: How to cook. Boil water.");
  auto truncated = write_file("hs_bad", "validation_llamacpp_format.txt", "Sports: A man.\n2\na\nb\n");
  EXPECT_THROW(load_task_docs(t, truncated), Error);
}

TEST(EvalFormat, TaskFileLookup) {
  auto dir = test::temp_dir("task_lookup");
  EXPECT_NE(error_of([&] { task_file(find_task("piqa"), dir, "validation"); }).find("piqa"), std::string::npos);
  EXPECT_THROW(find_task("no_such_task"), Error);
}

// An empty task file is an error, not "acc 0.0000 over 0 documents" with exit code 0.
TEST(TaskFormat, EmptyTaskFileRefused) {
  const auto dir = test::temp_dir("empty_task");
  std::ofstream(dir / "empty.jsonl") << "\n  \n";
  std::ofstream(dir / "none_llamacpp_format.txt");
  for (const char* f : {"empty.jsonl", "none_llamacpp_format.txt"}) {
    const std::string e = error_of([&] { read_docs(dir / f); });
    EXPECT_NE(e.find((dir / f).string() + ": no documents"), std::string::npos) << e;
  }
}

}  // namespace
}  // namespace hyb::eval
