// Every built-in task's requests for its first document(s), against prompts written out by hand
// from the harness's rules (../shared/docs/lm-eval-tasks.md), on the real task files.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "eval/task.h"
#include "util/error.h"

namespace hyb::eval {
namespace {

std::vector<Instance> first_docs(const std::string& task, int64_t n, const std::string& split = "") {
  const auto dir = test::shared_path("data/tasks");
  const TaskSpec& t = find_task(task);
  auto docs = load_task_docs(t, task_file(t, dir, split.empty() ? t.split : split), n);
  return build_instances(t, docs);
}

// Checks one document: the context(s), continuations and gold.
void expect_mc(const Instance& inst, const std::string& ctx, const std::vector<std::string>& conts, int64_t gold) {
  ASSERT_EQ(inst.requests.size(), conts.size());
  for (size_t i = 0; i < conts.size(); ++i) {
    EXPECT_EQ(inst.requests[i].context, ctx) << "choice " << i;
    EXPECT_EQ(inst.requests[i].continuation, conts[i]) << "choice " << i;
  }
  EXPECT_EQ(inst.gold, gold);
}

TEST(EvalTasks, ArcEasyAndChallenge) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto e = first_docs("arc_easy", 1);
  expect_mc(e[0], "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:",
            {" Sunlight is the source of energy for nearly all ecosystems.",
             " Most ecosystems are found on land instead of in water.",
             " Carbon dioxide is more available than other gases.", " The producers in all ecosystems are plants."},
            0);
  auto c = first_docs("arc_challenge", 1);
  expect_mc(c[0],
            "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most "
            "likely effect of this increase in rotation?\nAnswer:",
            {" Planetary density will decrease.", " Planetary years will become longer.",
             " Planetary days will become shorter.", " Planetary gravity will become stronger."},
            2);
  EXPECT_EQ(c[0].choices[2], "Planetary days will become shorter.");  // acc_norm lengths: no delimiter
}

TEST(EvalTasks, BoolQ) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto b = first_docs("boolq", 1);
  const std::string& ctx = b[0].requests[0].context;
  EXPECT_EQ(ctx.rfind("All biomass goes through at least some of these steps: it needs to be grown, collected,", 0), 0u);
  const std::string tail = "uses much less petroleum than producing gasoline.\nQuestion: does ethanol take more energy make that produces?\nAnswer:";
  ASSERT_GE(ctx.size(), tail.size());
  EXPECT_EQ(ctx.substr(ctx.size() - tail.size()), tail);
  expect_mc(b[0], ctx, {" no", " yes"}, 0);
}

TEST(EvalTasks, Piqa) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto p = first_docs("piqa", 1);
  expect_mc(p[0], "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:",
            {" Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will "
             "also need to supply it with a water bottle and a food dish.",
             " Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, you will "
             "also need to supply it with a water bottle and a food dish."},
            0);
}

TEST(EvalTasks, OpenBookQA) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto o = first_docs("openbookqa", 1);
  expect_mc(o[0],
            "A person wants to start saving money so that they can afford a nice vacation at the end of the year. After "
            "looking over their budget and expenses, they decide the best way to save money is to",
            {" make more phone calls", " quit eating lunch out", " buy less with monopoly money", " have lunch with friends"},
            1);
}

TEST(EvalTasks, CommonsenseQA) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto c = first_docs("commonsense_qa", 1);
  expect_mc(c[0],
            "Question: A revolving door is convenient for two direction travel, but it also serves as a security measure "
            "at a what?\nA. bank\nB. library\nC. department store\nD. mall\nE. new york\nAnswer:",
            {" A", " B", " C", " D", " E"}, 0);
}

TEST(EvalTasks, WinograndeIsReversed) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto w = first_docs("winogrande", 2);
  ASSERT_EQ(w[0].requests.size(), 2u);
  EXPECT_EQ(w[0].requests[0].context, "Sarah was a much better surgeon than Maria so Sarah");
  EXPECT_EQ(w[0].requests[1].context, "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(w[0].requests[0].continuation, " always got the easier cases.");
  EXPECT_EQ(w[0].requests[1].continuation, " always got the easier cases.");
  EXPECT_EQ(w[0].gold, 1);
  EXPECT_EQ(w[1].requests[0].continuation, " always got the harder cases.");
  EXPECT_EQ(w[1].gold, 0);
}

TEST(EvalTasks, HellaSwagFromLlamaCppText) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto h = first_docs("hellaswag", 2);
  // ctx_b ("he") is capitalised as the harness does with the Hugging Face fields.
  expect_mc(h[0], "Roof shingle removal: A man is sitting on a roof. He",
            {" is using wrap to wrap a pair of skis.", " is ripping level tiles off.", " is holding a rubik's cube.",
             " starts pulling up roofing on a roof."},
            3);
  expect_mc(h[1], "Clean and jerk: A lady walks to a barbell. She bends down and grabs the pole. The lady",
            {" swings and lands in her arms.", " pulls the barbell forward.", " pulls a rope attached to the barbell.",
             " stands and lifts the weight over her head."},
            3);
}

TEST(EvalTasks, LambadaSplitsTheLastWord) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto l = first_docs("lambada_openai", 1);
  ASSERT_EQ(l[0].requests.size(), 1u);
  const std::string& ctx = l[0].requests[0].context;
  EXPECT_EQ(ctx.rfind("In my palm is a clear stone, and inside it is a small ivory statuette. A guardian angel.\n\n\"Figured", 0), 0u);
  const std::string tail = "his mouth curved in a confident grin, I don't care about";
  EXPECT_EQ(ctx.substr(ctx.size() - tail.size()), tail);
  EXPECT_EQ(l[0].requests[0].continuation, " signs");
  EXPECT_EQ(l[0].gold, -1);
}

TEST(EvalTasks, MathQA) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto m = first_docs("mathqa", 2);
  expect_mc(m[0],
            "Question: a shopkeeper sold an article offering a discount of 5 % and earned a profit of 31.1 % . what "
            "would have been the percentage of profit earned if no discount had been offered ?\nAnswer:",
            {" 38", " 27.675", " 30", " data inadequate", " none of these"}, 0);
  EXPECT_EQ(m[1].requests[4].continuation, " 145");
}

TEST(EvalTasks, MmluZeroAndFewShot) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto e = first_docs("mmlu_econometrics", 1);
  const std::string q =
      "Which one of the following is the most appropriate definition of a 99% confidence interval?\n"
      "A. 99% of the time in repeated samples, the interval would contain the true value of the parameter\n"
      "B. 99% of the time in repeated samples, the interval would contain the estimated value of the parameter\n"
      "C. 99% of the time in repeated samples, the null hypothesis will be rejected\n"
      "D. 99% of the time in repeated samples, the null hypothesis will not be rejected when it was false\nAnswer:";
  const std::string desc = "The following are multiple choice questions (with answers) about econometrics.\n\n";
  expect_mc(e[0], desc + q, {" A", " B", " C", " D"}, 0);

  // One shot: the first dev example with its answer letter, then "\n\n", then the question.
  const TaskSpec& t = find_task("mmlu_marketing");
  auto docs = load_task_docs(t, task_file(t, dir, "test"), 1);
  auto pool = load_task_docs(t, task_file(t, dir, "dev"));
  auto m = build_instances(t, docs, pool, 1, false);
  const std::string shot =
      "_____________ is a natural outcome when combining demographic and geographic variables.\n"
      "A. Geodemographics\nB. Product differentiation.\nC. ANSOFF matrix.\nD. Brand management.\nAnswer: A\n\n";
  expect_mc(m[0],
            "The following are multiple choice questions (with answers) about marketing.\n\n" + shot +
                "This is a hierarchy of effects or sequential model used to explain how advertising works:\n"
                "A. ADD.\nB. AIDA.\nC. PESTLE.\nD. SWOT.\nAnswer:",
            {" A", " B", " C", " D"}, 1);
  // Scoring the dev split itself: a document is never its own example.
  auto self = build_instances(t, pool, pool, 1, true);
  const std::string& own = self[0].requests[0].context;
  EXPECT_EQ(own.find("is a natural outcome"), own.rfind("is a natural outcome"));
  EXPECT_NE(own.find("referred to as the _______________.\nA. Outsourcing unit."), std::string::npos);
  EXPECT_THROW(build_instances(find_task("piqa"), {}, {}, 1, false), Error);
}

TEST(EvalTasks, PubMedQA) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto p = first_docs("pubmedqa", 1);
  const std::string& ctx = p[0].requests[0].context;
  EXPECT_EQ(ctx.rfind("Abstract: Dyschesia can be provoked by inappropriate defecation movements.", 0), 0u);
  // CONTEXTS are joined with newlines.
  EXPECT_NE(ctx.find("using anorectal endosonography.\nTwenty consecutive patients"), std::string::npos);
  const std::string tail = "in patients versus control subjects.\nQuestion: Is anorectal endosonography valuable in dyschesia?\nAnswer:";
  EXPECT_EQ(ctx.substr(ctx.size() - tail.size()), tail);
  expect_mc(p[0], ctx, {" yes", " no", " maybe"}, 0);
}

TEST(EvalTasks, StoryCloze) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  auto s = first_docs("storycloze_2016", 1);
  expect_mc(s[0],
            "My friends all love to go to the club to dance. They think it's a lot of fun and always invite. I finally "
            "decided to tag along last Saturday. I danced terribly and broke a friend's toe.",
            {" My friends decided to keep inviting me out as I am so much fun.",
             " The next weekend, I was asked to please stay home."},
            1);
}

TEST(EvalTasks, EveryTaskLoadsItsDefaultSplit) {
  HYB_REQUIRE_SHARED(dir, "data/tasks");
  for (const auto& t : builtin_tasks()) {
    if (t.name == "sciq") continue;  // not available in ../shared
    auto docs = load_task_docs(t, task_file(t, dir, t.split), 50);
    auto inst = build_instances(t, docs);
    EXPECT_EQ(inst.size(), 50u) << t.name;
    for (const auto& i : inst) EXPECT_FALSE(i.requests.empty()) << t.name;
  }
}

}  // namespace
}  // namespace hyb::eval
