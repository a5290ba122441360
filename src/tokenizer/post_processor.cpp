// post_processor: which special tokens encode(add_special=true) puts around the text, from
// tokenizer.json's "post_processor" and tokenizer_config.json.
//   Llama-2/3 TemplateProcessing single = [<s>, $A]  -> prefix [BOS]
//   Qwen2 ByteLevel (offsets only)                    -> nothing
//   RobertaProcessing / BertProcessing                -> [cls] $A [sep]
#include <nlohmann/json.hpp>

#include "tokenizer/impl.h"
#include "util/error.h"

namespace hyb::tok {

namespace {

// A special token named in tokenizer_config.json: "<s>" or {"content": "<s>", ...} or null.
// A token given by name: a string, an AddedToken object {"content": ...}, or null (none).
// Anything else (an integer id, say) is refused rather than ignored.
std::optional<std::string> token_name(const nlohmann::json& cfg, const char* key, const std::string& where) {
  if (!cfg.contains(key)) return std::nullopt;
  const auto& v = cfg.at(key);
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) return v.at("content").get<std::string>();
  fail(where, "'{}' must be a token string, an object with a 'content' string, or null; got {}", key, v.dump());
}

}  // namespace

void parse_post_processor(const nlohmann::json& j, const std::string& where, Tokenizer::Impl& t) {
  if (j.is_null()) return;
  const std::string type = j.value("type", "");
  std::vector<int32_t> pre, post;
  if (type == "Sequence") {
    for (const auto& p : j.at("processors")) parse_post_processor(p, where, t);
    return;
  } else if (type == "ByteLevel") {
    return;  // only trims offsets, which we do not report
  } else if (type == "TemplateProcessing") {
    // single: [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}, ...]
    bool seen_a = false;
    const auto& specials = j.at("special_tokens");
    for (const auto& item : j.at("single")) {
      if (item.contains("Sequence")) {
        seen_a = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      if (!specials.contains(name)) fail(where, "TemplateProcessing uses '{}' but special_tokens lacks it", name);
      for (const auto& id : specials.at(name).at("ids")) (seen_a ? post : pre).push_back(id.get<int32_t>());
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    pre.push_back(j.at("cls").at(1).get<int32_t>());
    post.push_back(j.at("sep").at(1).get<int32_t>());
  } else {
    fail(where, "post-processor type '{}' is not supported", type);
  }
  // Processors of a Sequence apply in order, each around the result of the previous one.
  t.prefix.insert(t.prefix.begin(), pre.begin(), pre.end());
  t.suffix.insert(t.suffix.end(), post.begin(), post.end());
}

void apply_tokenizer_config(const nlohmann::json& cfg, const std::string& where, Tokenizer::Impl& t) {
  // BOS/EOS ids: the config names them; without a config, whatever the template adds.
  auto resolve = [&](const char* key) -> std::optional<int32_t> {
    const auto name = token_name(cfg, key, where);
    return name ? t.token_id(*name) : std::nullopt;
  };
  t.bos = cfg.contains("bos_token") ? resolve("bos_token") : (t.prefix.empty() ? std::nullopt : std::optional(t.prefix.front()));
  t.eos = cfg.contains("eos_token") ? resolve("eos_token") : (t.suffix.empty() ? std::nullopt : std::optional(t.suffix.back()));

  // transformers rebuilds the template as [BOS] $A [EOS] when the config sets add_bos_token or
  // add_eos_token (LlamaTokenizerFast.update_post_processor); a flag left out keeps what the
  // post-processor did.
  auto flag = [&](const char* key) -> std::optional<bool> {
    if (!cfg.contains(key) || cfg.at(key).is_null()) return std::nullopt;
    if (!cfg.at(key).is_boolean()) fail(where, "'{}' must be true or false, got {}", key, cfg.at(key).dump());
    return cfg.at(key).get<bool>();
  };
  const auto add_bos = flag("add_bos_token"), add_eos = flag("add_eos_token");
  if (add_bos) {
    if (*add_bos && !t.bos) fail(where, "add_bos_token is true but bos_token is missing or unknown");
    t.prefix = *add_bos ? std::vector<int32_t>{*t.bos} : std::vector<int32_t>{};
  }
  if (add_eos) {
    if (*add_eos && !t.eos) fail(where, "add_eos_token is true but eos_token is missing or unknown");
    t.suffix = *add_eos ? std::vector<int32_t>{*t.eos} : std::vector<int32_t>{};
  }
}

}  // namespace hyb::tok
