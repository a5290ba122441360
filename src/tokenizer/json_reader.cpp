// json_reader: the SAX handler behind read_tokenizer_json (see json_reader.h).
// Tree mode rebuilds nlohmann's DOM the way its own DOM parser does (a stack of open containers
// and the object member the next value goes into); Vocab and Merges modes hand entries out.
#include "tokenizer/json_reader.h"

#include "util/error.h"
#include "util/json.h"

namespace hyb::tok {

namespace {

using json = nlohmann::json;

class Reader final : public nlohmann::json_sax<json> {
 public:
  Reader(const JsonTables& tables, JsonReadResult& out) : tables_(tables), out_(out) {}
  std::string error;

  bool null() override { return value(json()); }
  bool boolean(bool v) override { return value(json(v)); }
  bool number_integer(number_integer_t v) override { return integer(v, json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return integer(static_cast<int64_t>(v), json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
  bool binary(binary_t&) override { return value(json()); }

  bool string(string_t& s) override {
    if (mode_ == Mode::Merges) {
      std::string none;
      tables_.on_merge(s, none, false);
      return true;
    }
    if (mode_ == Mode::MergePair) {
      if (pair_n_ >= 2) return bad("a merge pair has more than two entries");
      pair_[pair_n_++] = std::move(s);
      return true;
    }
    return value(json(std::move(s)));
  }

  bool key(string_t& k) override {
    if (mode_ == Mode::Vocab) vocab_key_ = std::move(k);
    else slot_ = &(*stack_.back())[k], key_ = std::move(k);
    return true;
  }

  bool start_object(std::size_t) override {
    if (mode_ != Mode::Tree) return bad("unexpected object in model.vocab or model.merges");
    if (at_model("vocab")) {  // placeholder in the tree, entries to the callback
      value(json::object());
      mode_ = Mode::Vocab;
      out_.has_vocab = true;
      return true;
    }
    return open(json::object());
  }
  bool end_object() override {
    if (mode_ == Mode::Vocab) mode_ = Mode::Tree;
    else stack_.pop_back(), keys_.pop_back();
    return true;
  }

  bool start_array(std::size_t) override {
    if (mode_ == Mode::Merges) {
      mode_ = Mode::MergePair;
      pair_n_ = 0;
      return true;
    }
    if (mode_ != Mode::Tree) return bad("unexpected array in model.vocab or in a merge pair");
    if (at_model("merges")) {
      value(json::array());
      mode_ = Mode::Merges;
      out_.has_merges = true;
      return true;
    }
    return open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::MergePair) {
      if (pair_n_ != 2) return bad("a merge pair does not have two entries");
      tables_.on_merge(pair_[0], pair_[1], true);
      mode_ = Mode::Merges;
    } else if (mode_ == Mode::Merges) {
      mode_ = Mode::Tree;
    } else {
      stack_.pop_back(), keys_.pop_back();
    }
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = std::string("invalid JSON: ") + e.what();
    return false;
  }

 private:
  enum class Mode { Tree, Vocab, Merges, MergePair };

  bool bad(const std::string& what) {
    error = what;
    return false;
  }
  // Is the container about to open the member `name` of the top-level "model" object?
  bool at_model(const char* name) const {
    return stack_.size() == 2 && keys_[1] == "model" && stack_.back()->is_object() && key_ == name;
  }
  bool integer(int64_t v, json&& j) {
    if (mode_ != Mode::Vocab) return value(std::move(j));
    tables_.on_vocab(vocab_key_, v);
    return true;
  }
  // Places v where the next value goes; returns it.
  json* place(json&& v) {
    if (stack_.empty()) {
      out_.tree = std::move(v);
      return &out_.tree;
    }
    if (stack_.back()->is_array()) {
      stack_.back()->push_back(std::move(v));
      return &stack_.back()->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }
  bool value(json&& v) {
    if (mode_ == Mode::Vocab) return bad("model.vocab entry '" + vocab_key_ + "' is not an integer id");
    if (mode_ != Mode::Tree) return bad("model.merges holds something other than strings");
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    const bool in_object = !stack_.empty() && stack_.back()->is_object();
    json* p = place(std::move(container));
    keys_.push_back(in_object ? key_ : std::string());
    stack_.push_back(p);
    return true;
  }

  const JsonTables& tables_;
  JsonReadResult& out_;
  Mode mode_ = Mode::Tree;
  std::vector<json*> stack_;       // open containers, outermost first
  std::vector<std::string> keys_;  // the key each open container sits under ("" in arrays)
  json* slot_ = nullptr;           // the object member the next value goes into
  std::string key_;                // the last key seen in tree mode
  std::string vocab_key_, pair_[2];
  int pair_n_ = 0;
};

}  // namespace

JsonReadResult read_tokenizer_json(const std::string& text, const std::string& where,
                                   const JsonTables& tables) {
  JsonReadResult out;
  Reader reader(tables, out);
  check_json_depth(text, where);  // the tree built for the rest of the file is copied recursively
  if (!json::sax_parse(text, &reader)) fail(where, "{}", reader.error.empty() ? "invalid JSON" : reader.error);
  return out;
}

}  // namespace hyb::tok
