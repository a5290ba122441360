// Tokenising requests by the harness's rules, on a toy encoder whose pieces carry their leading
// spaces (as byte-level BPE does), so a trailing context space visibly changes the tokens, and
// on the real stories260K and Qwen2 tokenizers.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>

#include "../test_util.h"
#include "eval/requests.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hyb::eval {
namespace {

// Pieces: a run of spaces joined to the word that follows ("Answer:", " yes"); trailing spaces
// form a piece of their own. Ids are handed out on first sight; BOS = 1.
TextEncoder toy_encoder() {
  auto vocab = std::make_shared<std::map<std::string, int32_t>>();
  TextEncoder e;
  e.prefix_token = 1;
  e.encode = [vocab](const std::string& text, bool add_special) {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(1);
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find_first_not_of(' ', i);
      j = j == std::string::npos ? text.size() : text.find(' ', j);
      if (j == std::string::npos) j = text.size();
      const std::string piece = text.substr(i, j - i);
      auto [it, fresh] = vocab->emplace(piece, static_cast<int32_t>(vocab->size()) + 10);
      ids.push_back(it->second);
      i = j;
    }
    return ids;
  };
  return e;
}

TEST(EvalRequests, TrailingContextSpaceMovesToTheContinuation) {
  auto enc = toy_encoder();
  auto moved = encode_request({"Answer: ", "yes"}, enc, "doc");
  auto plain = encode_request({"Answer:", " yes"}, enc, "doc");
  EXPECT_EQ(moved.context, plain.context);
  EXPECT_EQ(moved.continuation, plain.continuation);
  EXPECT_EQ(moved.context, (std::vector<int32_t>{1, enc.encode("Answer:", false)[0]}));
  EXPECT_EQ(moved.continuation, enc.encode(" yes", false));
  // Several trailing whitespace characters (Unicode ones too) move together.
  auto many = encode_request({"Answer:\u00a0 \n", "x"}, enc, "doc");
  EXPECT_EQ(many.context, plain.context);
  const auto whole = enc.encode("Answer:\u00a0 \nx", true);
  EXPECT_EQ(many.continuation, std::vector<int32_t>(whole.begin() + 2, whole.end()));
}

TEST(EvalRequests, ContinuationIsTheTailOfTheWholeEncoding) {
  // tok(ctx + cont)[len(tok(ctx)):], not tok(cont): here the context's last piece and the
  // continuation merge ("Ans" + "wer" -> "Answer"), so the context's token count already covers
  // "Answer" and only " is" is scored, exactly as the harness does.
  auto enc = toy_encoder();
  auto r = encode_request({"The Ans", "wer is"}, enc, "doc");
  EXPECT_EQ(r.context, enc.encode("The Ans", true));
  EXPECT_EQ(r.continuation, enc.encode(" is", false));
  EXPECT_NE(r.continuation, enc.encode("wer is", false));
  // A continuation swallowed whole by such a merge is an error, as the harness's assertion.
  EXPECT_THROW(encode_request({"The Ans", "wer"}, enc, "doc"), Error);
}

TEST(EvalRequests, EmptyContextIsThePrefixToken) {
  auto enc = toy_encoder();
  auto r = encode_request({"", " once upon"}, enc, "doc");
  EXPECT_EQ(r.context, (std::vector<int32_t>{1}));
  EXPECT_EQ(r.continuation, enc.encode(" once upon", false));
  enc.prefix_token = -1;
  EXPECT_THROW(encode_request({"", "x"}, enc, "doc"), Error);
}

TEST(EvalRequests, LeftTruncation) {
  TokenRequest r{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12, 13}};
  // (ctx + cont)[-(8+1):] keeps 9 tokens: the last 6 of the context and the continuation.
  truncate_request(r, 8, "doc");
  EXPECT_EQ(r.context, (std::vector<int32_t>{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(r.continuation, (std::vector<int32_t>{11, 12, 13}));
  TokenRequest fits{{1, 2}, {3}};
  truncate_request(fits, 8, "doc");
  EXPECT_EQ(fits.context.size(), 2u);
  TokenRequest edge{{1, 2, 3}, {4, 5, 6, 7}};  // a continuation of exactly max_len keeps one context token
  truncate_request(edge, 4, "doc");
  EXPECT_EQ(edge.context, (std::vector<int32_t>{3}));
  TokenRequest too_long{{1}, {2, 3, 4, 5, 6}};
  EXPECT_THROW(truncate_request(too_long, 4, "doc"), Error);
}

TEST(EvalRequests, RealTokenizers) {
  HYB_REQUIRE_SHARED(llama_dir, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(qwen_dir, "data/tokenizers/qwen2");
  // Llama-style: BOS first in the context; Qwen2: no BOS. Either way the context's trailing
  // space ends up in the first continuation token.
  for (const auto& dir : {llama_dir, qwen_dir}) {
    const Tokenizer tok = Tokenizer::load(dir);
    const auto enc = TextEncoder::from(tok);
    auto r = encode_request({"Question: Is the sky blue?\nAnswer: ", "yes"}, enc, dir.string());
    EXPECT_EQ(r.context, tok.encode("Question: Is the sky blue?\nAnswer:", true)) << dir;
    const auto whole = tok.encode("Question: Is the sky blue?\nAnswer: yes", true);
    EXPECT_EQ(r.continuation, std::vector<int32_t>(whole.begin() + r.context.size(), whole.end())) << dir;
    EXPECT_EQ(!r.context.empty() && tok.bos_id() && r.context[0] == *tok.bos_id(), tok.adds_bos()) << dir;
    if (tok.adds_bos()) {  // a context that starts with "<s>" gets no second BOS (has_bos_prefix)
      const std::string bos = tok.decode({*tok.bos_id()}, false);
      auto own = encode_request({bos + "Hello", " world"}, enc, dir.string());
      EXPECT_EQ(own.context, tok.encode(bos + "Hello", false)) << dir;
      EXPECT_EQ(std::count(own.context.begin(), own.context.end(), *tok.bos_id()), 1) << dir;
    }
    // The space is inside the continuation's first token ("▁yes" / "Ġyes").
    const std::string first = tok.piece(r.continuation[0]);
    EXPECT_TRUE(first.rfind("\u2581", 0) == 0 || first.rfind("\u0120", 0) == 0) << dir << " " << first;
  }
}

}  // namespace
}  // namespace hyb::eval
