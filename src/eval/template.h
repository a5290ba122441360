// eval/template: the small expression language task entries are written in, the counterpart of
// the harness's Jinja templates and `!function` helpers.
//
//   template   "Question: {question|strip}\nAnswer:"   text with {expression} placeholders
//   expression path(|filter(:arg))*                    e.g. choices.text.0, CONTEXTS|join:\n
//   path       dotted document fields; a number indexes a list
//
// Filters (string filters apply to each element of a list):
//   strip lstrip rstrip capitalize             Python's str methods
//   join:SEP                                   list -> SEP.join(list)
//   before:X / after:X                         the text before / after the first X
//   drop_last_word / last_word                 text.split(' ')[:-1] joined by ' ' / [-1]
//   underscores_to_spaces                      "high_school_x" -> "high school x"
//   index_of:FIELD                             list.index(doc[FIELD].strip())
//   letter_index                               "a"/"A" -> 0, "b" -> 1, ...
//   minus1                                     int(x) - 1
//   hellaswag                                  the harness's hellaswag preprocess()
//   mathqa_options                             "a ) 38 , b ) 27 , ..." -> ["38", "27", ...]
// "{{" and "}}" stand for literal braces. Pure C++.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace hyb::eval {

// One document of a task: its fields (Hugging Face names) and where it came from
// ("file:line"), which every error about it names.
struct Doc {
  nlohmann::json fields;
  std::string where;
};

// Evaluates an expression to a JSON value (string, number, bool or list).
nlohmann::json evaluate(const std::string& expr, const Doc& doc);
// Renders a template; every placeholder must evaluate to a string or a number.
std::string render(const std::string& tmpl, const Doc& doc);

// A string of ASCII digits as its integer (the harness's int(s) on an index); nullopt for any
// other text. Digits past int64 ("99999999999999999999999") throw hyb::Error naming doc.where.
std::optional<int64_t> digits_value(const std::string& s, const Doc& doc);

// The harness's hellaswag preprocess(): strip; " [title]" -> ". "; drop "[...]"; "  " -> " ".
std::string hellaswag_preprocess(const std::string& text);
// The harness's mathqa choices: re.findall(r"[abcd] \) .*?, |e \) .*?$", options), each
// match [4:].rstrip(" ,").
std::vector<std::string> mathqa_options(const std::string& options);

}  // namespace hyb::eval
