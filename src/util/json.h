// util/json: the one way JSON text is parsed. Every JSON input (config.json, tokenizer.json,
// tokenizer_config.json, task files, logs, checkpoints' and modules' metadata) goes through here,
// so each gets the same depth limit and the same one-line error naming its file.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hyb {

// Deeper than any file we read (tokenizer.json nests about 6 levels), far shallower than what
// overflows the stack: nlohmann's copy, dump and comparison recurse once per level, and a
// config.json of 100000 nested arrays crashed the process.
constexpr int kMaxJsonDepth = 512;

// Throws hyb::Error(where, ...) if `text` nests arrays/objects deeper than kMaxJsonDepth. Scans the
// text without parsing it (strings and their escapes skipped), so it is safe on any input.
void check_json_depth(std::string_view text, const std::string& where);

// The document in `text`; throws hyb::Error(where, "not valid JSON: ...") for invalid or too deep
// text (the library's message, which gives line and column, follows).
nlohmann::json parse_json(std::string_view text, const std::string& where);

// parse_json of the whole file (a regular file: see read_file).
nlohmann::json read_json_file(const std::filesystem::path& path);

// Reading a key of an object parsed from `where` (a file, or "FILE:LINE"): a damaged checkpoint,
// log or journal gives hyb::Error(where, "missing key 'step'") or (where, "key 'step' is a string,
// not an integer"), never the JSON library's exception text, which names no file.
const nlohmann::json& json_key(const nlohmann::json& object, const std::string& key, const std::string& where);
const nlohmann::json& json_object_key(const nlohmann::json& object, const std::string& key, const std::string& where);
int64_t json_int(const nlohmann::json& object, const std::string& key, const std::string& where);
double json_number(const nlohmann::json& object, const std::string& key, const std::string& where);
std::vector<int64_t> json_int_list(const nlohmann::json& object, const std::string& key, const std::string& where);

}  // namespace hyb
