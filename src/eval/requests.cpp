#include "eval/requests.h"

#include "eval/text.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hyb::eval {

TextEncoder TextEncoder::from(const Tokenizer& tok) {
  TextEncoder e;
  e.encode = [&tok](const std::string& text, bool add_special) { return tok.encode(text, add_special); };
  if (tok.bos_id()) e.prefix_token = *tok.bos_id();
  else if (tok.eos_id()) e.prefix_token = *tok.eos_id();
  if (e.prefix_token >= 0) e.prefix_text = tok.decode({e.prefix_token}, false);
  return e;
}

TokenRequest encode_request(const Request& r, const TextEncoder& enc, const std::string& where) {
  TokenRequest t;
  if (r.context.empty()) {
    if (enc.prefix_token < 0) fail(where, "empty context and the tokenizer has neither a BOS nor an EOS token");
    t.continuation = enc.encode(r.continuation, false);
    // A continuation that already starts with the prefix token keeps it as its context.
    if (!t.continuation.empty() && t.continuation[0] == enc.prefix_token) {
      t.context.push_back(t.continuation[0]);
      t.continuation.erase(t.continuation.begin());
    } else {
      t.context.push_back(enc.prefix_token);
    }
  } else {
    const std::string ctx = py_rstrip(r.context);
    const std::string cont = r.context.substr(ctx.size()) + r.continuation;
    if (ctx.empty()) return encode_request(Request{"", cont}, enc, where);
    // The harness's has_bos_prefix: a text that already starts with the BOS text gets no second one.
    const bool special = enc.prefix_text.empty() || ctx.rfind(enc.prefix_text, 0) != 0;
    t.context = enc.encode(ctx, special);
    auto whole = enc.encode(ctx + cont, special);
    if (whole.size() > t.context.size()) t.continuation.assign(whole.begin() + t.context.size(), whole.end());
  }
  if (t.continuation.empty()) fail(where, "continuation '{}' encodes to no tokens", r.continuation);
  if (t.context.empty()) fail(where, "context '{}' encodes to no tokens", r.context);
  return t;
}

void truncate_request(TokenRequest& r, int64_t max_len, const std::string& where) {
  const int64_t n_cont = static_cast<int64_t>(r.continuation.size());
  if (n_cont > max_len)
    fail(where,
         "continuation of {} tokens does not fit the model's {}-token window (the harness stops here too; "
         "--max-length N scores with a larger window)",
         n_cont, max_len);
  const int64_t total = static_cast<int64_t>(r.context.size()) + n_cont;
  if (total > max_len + 1) r.context.erase(r.context.begin(), r.context.begin() + (total - (max_len + 1)));
}

}  // namespace hyb::eval
