#include "util/json.h"

#include <nlohmann/json.hpp>

#include <cstdint>

#include "util/error.h"
#include "util/files.h"

namespace hyb {

void check_json_depth(std::string_view text, const std::string& where) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) fail(where, "JSON nested deeper than {} levels", kMaxJsonDepth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  check_json_depth(text, where);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail(where, "not valid JSON: {}", e.what());
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_file(path), path.string());
}

namespace {
// "a string", "an integer", ... for messages.
const char* type_name(const nlohmann::json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "a list";
  if (v.is_boolean()) return "a boolean";
  return "null";
}
}  // namespace

const nlohmann::json& json_key(const nlohmann::json& object, const std::string& key, const std::string& where) {
  if (!object.is_object()) fail(where, "expected a JSON object, found {}", type_name(object));
  const auto it = object.find(key);
  if (it == object.end()) fail(where, "missing key '{}'", key);
  return *it;
}

const nlohmann::json& json_object_key(const nlohmann::json& object, const std::string& key, const std::string& where) {
  const nlohmann::json& v = json_key(object, key, where);
  if (!v.is_object()) fail(where, "key '{}' is {}, not an object", key, type_name(v));
  return v;
}

int64_t json_int(const nlohmann::json& object, const std::string& key, const std::string& where) {
  const nlohmann::json& v = json_key(object, key, where);
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)) fail(where, "key '{}' is too large", key);
  if (!v.is_number_integer()) fail(where, "key '{}' is {}, not an integer", key, type_name(v));
  return v.get<int64_t>();
}

double json_number(const nlohmann::json& object, const std::string& key, const std::string& where) {
  const nlohmann::json& v = json_key(object, key, where);
  if (!v.is_number()) fail(where, "key '{}' is {}, not a number", key, type_name(v));
  return v.get<double>();
}

std::vector<int64_t> json_int_list(const nlohmann::json& object, const std::string& key, const std::string& where) {
  const nlohmann::json& v = json_key(object, key, where);
  if (!v.is_array()) fail(where, "key '{}' is {}, not a list of integers", key, type_name(v));
  std::vector<int64_t> out;
  for (const auto& x : v) {
    if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > uint64_t(INT64_MAX)))
      fail(where, "key '{}' holds {}, not only integers", key, x.dump());
    out.push_back(x.get<int64_t>());
  }
  return out;
}

}  // namespace hyb
