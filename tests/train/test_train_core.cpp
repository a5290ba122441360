// train/schedule and train/loop: the learning rate against its closed form; the loop runs the
// steps in order, checkpoints on its cadence, and stops after --stop-after-steps with a checkpoint.
#include <gtest/gtest.h>

#include <cmath>

#include "train/loop.h"
#include "train/schedule.h"

namespace hyb {
namespace {

TEST(TrainSchedule, WarmupThenCosine) {
  const LrSchedule s{2.0, 0.1, 4, 14};
  EXPECT_DOUBLE_EQ(s.at(1), 0.5);
  EXPECT_DOUBLE_EQ(s.at(4), 2.0);
  EXPECT_DOUBLE_EQ(s.at(9), 0.2 + 1.8 * 0.5);  // half-way through the cosine: the mean of lr and lo
  EXPECT_DOUBLE_EQ(s.at(14), 0.2);
  EXPECT_DOUBLE_EQ(s.at(20), 0.2);  // past the end: stays at lo
  const LrSchedule c{2.0, 0.1, 4, 14, /*cosine=*/false};
  EXPECT_DOUBLE_EQ(c.at(2), 1.0);
  EXPECT_DOUBLE_EQ(c.at(12), 2.0);
  const LrSchedule none{1.0, 0.5, 0, 4};
  EXPECT_DOUBLE_EQ(none.at(0), 1.0);
  EXPECT_NEAR(none.at(2), 0.5 + 0.5 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-15);
}

TEST(TrainLoop, StepsCheckpointsAndStops) {
  LoopOptions o;
  o.total_steps = 10, o.checkpoint_every = 3, o.stop_after_steps = 5, o.progress = false;
  std::vector<int64_t> steps, checkpoints;
  TrainLoop loop(o);
  LoopHooks h;
  h.step = [&](int64_t s) { steps.push_back(s); };
  h.checkpoint = [&] { checkpoints.push_back(loop.step()); };
  EXPECT_FALSE(loop.run(h));
  EXPECT_TRUE(loop.interrupted());
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{3, 5}));  // the cadence, then the stop's own

  // Resumed from step 5: steps 6..10, checkpoints at 6, 9 and the last.
  o.stop_after_steps = 0;
  TrainLoop resumed(o, 5);
  steps.clear(), checkpoints.clear();
  h.checkpoint = [&] { checkpoints.push_back(resumed.step()); };
  EXPECT_TRUE(resumed.run(h));
  EXPECT_EQ(steps, (std::vector<int64_t>{6, 7, 8, 9, 10}));
  EXPECT_EQ(checkpoints, (std::vector<int64_t>{6, 9, 10}));

  // `finished` ends a run early as done (no stop, no checkpoint beyond the last step's).
  TrainLoop early(o);
  steps.clear();
  h.checkpoint = nullptr;
  h.finished = [&] { return steps.size() == 2; };
  EXPECT_TRUE(early.run(h));
  EXPECT_EQ(early.step(), 2);
}

}  // namespace
}  // namespace hyb
