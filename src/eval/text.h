// eval/text: the few Python string operations the harness's prompts are written in, with
// Python's semantics on UTF-8 (str.strip's Unicode whitespace, len() in code points), so that
// prompts built here are byte-identical to the harness's. Pure C++.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hyb::eval {

// str.strip() / lstrip() / rstrip() with no argument: Python's str.isspace() set.
std::string py_strip(std::string_view s);
std::string py_lstrip(std::string_view s);
std::string py_rstrip(std::string_view s);
// str.rstrip(chars) / str.strip(chars) for ASCII `chars`.
std::string rstrip_chars(std::string_view s, std::string_view chars);
std::string strip_chars(std::string_view s, std::string_view chars);

// len(str): Unicode code points of valid UTF-8 (acc_norm's length; not bytes).
size_t code_points(std::string_view s);

// str.capitalize(): first character upper-case, the rest lower-case (ASCII letters only;
// other characters are left as they are).
std::string py_capitalize(std::string_view s);

// str.replace(from, to), every occurrence, left to right.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to);

// s.split(sep) for a non-empty separator (Python: "a  b".split(" ") == ["a", "", "b"]).
std::vector<std::string> split(std::string_view s, std::string_view sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// re.sub(r"\[.*?\]", "", s): every shortest "[...]" that holds no newline, removed.
std::string remove_bracketed(std::string_view s);

}  // namespace hyb::eval
