// decoder: tokenizer.json's "decoder": token strings back to text, as HF's decode_chain does:
// each step maps the list of token strings to a new list, and the result is their concatenation.
// Supported: Sequence, ByteLevel, Replace (String pattern), ByteFallback, Fuse, Strip, Metaspace;
// no decoder joins tokens with spaces (HF's default).
//   Llama-2: ["▁Hello", "<0xE2>", "<0x82>", "<0xAC>"] -Replace-> [" Hello", "<0xE2>", ...]
//            -ByteFallback-> [" Hello", "€"] -Fuse-> [" Hello€"] -Strip(1 leading)-> ["Hello€"]
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace hyb::tok {

class Decoder {
 public:
  static Decoder parse(const nlohmann::json& j, const std::string& where);

  std::string run(std::vector<std::string> tokens) const;

 private:
  enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
  struct Step {
    Kind kind;
    std::string pattern, content;  // Replace; Strip: content is the stripped character
    size_t start = 0, stop = 0;    // Strip: how many to strip at each end
    bool prepend = true;           // Metaspace: prepend_scheme != never
  };
  static void parse_into(const nlohmann::json& j, const std::string& where, Decoder& out);
  void apply(const Step& st, std::vector<std::string>& tokens) const;
  std::vector<Step> steps_;
  bool present_ = false;
};

}  // namespace hyb::tok
