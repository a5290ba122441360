// json_reader: reads tokenizer.json in one streaming (SAX) pass. model.vocab (up to 150K
// entries) and model.merges (up to 280K) go straight to callbacks; everything else becomes a
// normal nlohmann::json tree. Building the full tree would cost most of the load time (a 7 MB
// Llama-3 file: ~0.7 s as a tree, ~0.1 s streamed), and those two tables are all we need fast.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace hyb::tok {

struct JsonTables {
  // model.vocab entry: piece -> id.
  std::function<void(std::string& piece, int64_t id)> on_vocab;
  // model.merges entry: either "a b" (right empty, `left` holds the whole line) or ["a", "b"].
  std::function<void(std::string& left, std::string& right, bool pair)> on_merge;
};

struct JsonReadResult {
  nlohmann::json tree;  // the document; model.vocab / model.merges are empty placeholders
  bool has_vocab = false, has_merges = false;
};

// Throws hyb::Error(where, ...) on invalid JSON or a vocab/merges entry of the wrong shape.
JsonReadResult read_tokenizer_json(const std::string& text, const std::string& where,
                                   const JsonTables& tables);

}  // namespace hyb::tok
