// sft/examples: rows mark exactly the answer tokens' labels; packing never splits a document and
// skips (and counts) those longer than a row; every epoch visits every row once, in its own order.
#include <gtest/gtest.h>

#include <set>

#include "sft/examples.h"

namespace hyb::sft {
namespace {

TEST(SftRows, PackedAndPaddedRowsMarkTheAnswerLabels) {
  const std::vector<Example> ex = {{{1, 2, 3}, {4, 5}, "a"}, {{6}, {7}, "b"}, {{8, 9, 10, 11, 12, 13, 14, 15}, {16}, "c"}};
  const Rows packed = make_rows(ex, 8, /*pack=*/true, 0);
  ASSERT_EQ(packed.rows.size(), 1u);
  EXPECT_EQ(packed.rows[0].ids, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 0}));
  EXPECT_EQ(packed.rows[0].labels, (std::vector<int32_t>{2, 3, 4, 5, 6, 7, 0, 0}));
  // labels 4, 5 (first answer) and 7 (second); 6 is the next document's prompt; padding is not.
  EXPECT_EQ(packed.rows[0].answer, (std::vector<uint8_t>{0, 0, 1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(packed.examples, 2);
  EXPECT_EQ(packed.answer_tokens, 3);
  EXPECT_EQ(packed.skipped_too_long, 1);  // "c": 9 tokens > 8
  ASSERT_EQ(packed.skipped_where.size(), 1u);
  EXPECT_EQ(packed.skipped_where[0], "c (9 tokens)");

  const Rows padded = make_rows(ex, 8, /*pack=*/false, 0);
  ASSERT_EQ(padded.rows.size(), 2u);
  EXPECT_EQ(padded.rows[1].ids, (std::vector<int32_t>{6, 7, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(padded.rows[1].answer, (std::vector<uint8_t>{1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(padded.answer_tokens, 3);
}

TEST(SftRows, EveryEpochIsAPermutation) {
  const int64_t R = 10, B = 4;
  std::vector<int64_t> all;
  for (int64_t s = 1; s <= 5; ++s) {  // 20 rows = 2 epochs
    auto b = batch_rows(s, B, R, 7);
    ASSERT_EQ(b.size(), 4u);
    all.insert(all.end(), b.begin(), b.end());
  }
  const std::vector<int64_t> e0(all.begin(), all.begin() + R), e1(all.begin() + R, all.end());
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 10u);
  EXPECT_EQ(std::set<int64_t>(e1.begin(), e1.end()).size(), 10u);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(batch_rows(3, B, R, 7), std::vector<int64_t>(all.begin() + 8, all.begin() + 12));  // pure
  EXPECT_NE(batch_rows(1, B, R, 8), batch_rows(1, B, R, 7));
}

}  // namespace
}  // namespace hyb::sft
