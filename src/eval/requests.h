// eval/requests: (context, continuation) strings -> the token ids the model scores, by the
// harness's rules (lm_eval/api/model.py _encode_pair, models/huggingface.py):
//   - trailing whitespace of the context moves to the front of the continuation;
//   - ctx = tok(context), cont = tok(context + continuation)[len(ctx):] (the tokenizer's own
//     special tokens apply: a BOS for Llama-style tokenizers, none for Qwen2; none either when
//     the text already starts with the prefix token's text, e.g. "<s>");
//   - an empty context becomes [BOS] (EOS where there is no BOS), cont = tok(continuation)
//     without special tokens;
//   - the model reads (ctx + cont)[-(max_len+1):][:-1]: the context is cut from the left.
// Pure C++ (the tokenizer is reached through a function, so tests can use any encoder).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/task.h"

namespace hyb {
class Tokenizer;
}

namespace hyb::eval {

struct TextEncoder {
  // HF `tokenizer.encode(text, add_special_tokens=add_special)`.
  std::function<std::vector<int32_t>(const std::string& text, bool add_special)> encode;
  int32_t prefix_token = -1;  // BOS, else EOS: the context of a request whose context is empty
  std::string prefix_text;    // that token decoded ("<s>"): a text starting so gets no special tokens
  static TextEncoder from(const Tokenizer& tok);
};

struct TokenRequest {
  std::vector<int32_t> context;       // what precedes the continuation (>= 1 token)
  std::vector<int32_t> continuation;  // the tokens scored (>= 1 token)
};

// `where` names the document in errors (an empty continuation, a missing prefix token).
TokenRequest encode_request(const Request& r, const TextEncoder& enc, const std::string& where);

// Left truncation to a window of max_len tokens: keeps the last max_len + 1 tokens of
// context + continuation (the model reads all but the last). Fails if the continuation alone
// is longer than max_len.
void truncate_request(TokenRequest& r, int64_t max_len, const std::string& where);

}  // namespace hyb::eval
