// train/loop: the step loop every training run shares. Per step s = step + 1:
//
//   stop requested (Ctrl-C / SIGTERM, --stop-after-steps; agreed by every rank)?  -> stop
//   hooks.step(s)              the run's update: data, forward, loss, backward, clip, AdamW
//   hooks.record(s, last)      its log line, evaluation
//   checkpoint every K steps and after the last one (hooks.checkpoint, rank 0 only)
//   progress bar (tokens), hooks.after_step(s)
//
// Stopped early, it writes a checkpoint (unless the step has one) and says how to resume; the
// run reports it (exit code 130 in the CLI). Training time adds up over resumed runs.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace hyb {

namespace dist {
class ProcessGroup;
}

struct LoopOptions {
  std::string name = "train";  // the progress bar's label and the messages' first word
  int64_t total_steps = 1, tokens_per_step = 0;
  int64_t checkpoint_every = 0;  // 0: after the last step only (and on a stop)
  int64_t stop_after_steps = 0;  // > 0: stop as on a signal after this step
  bool progress = true;
  bool catch_signals = true;     // false: Ctrl-C keeps its default action (runs without checkpoints)
  bool root = true;              // rank 0: checkpoints and messages
  dist::ProcessGroup* group = nullptr;
  std::filesystem::path checkpoint_file;  // named in the message after a stop
};

struct LoopHooks {
  std::function<void(int64_t step)> step;                // required; throws to end the run
  std::function<void(int64_t step, bool last)> record;   // optional
  std::function<void()> checkpoint;                      // optional (no checkpoints without it)
  std::function<std::string()> status;                   // optional: the progress bar's status
  std::function<bool()> finished;                        // optional: ends the run early, as done
  std::function<void(int64_t step)> after_step;          // optional (tests)
};

class TrainLoop {
 public:
  // `step`: steps already done (a resumed run's checkpoint), `seconds_before` their training time.
  TrainLoop(LoopOptions opt, int64_t step = 0, double seconds_before = 0);

  // Runs to total_steps, until `finished`, or until a stop; true unless stopped.
  bool run(const LoopHooks& hooks);

  int64_t step() const { return step_; }
  int64_t last_checkpoint() const { return last_checkpoint_; }  // -1: none yet
  double seconds() const;  // training time over all runs
  bool interrupted() const { return interrupted_; }

 private:
  bool stop_requested() const;

  LoopOptions o_;
  int64_t step_, last_checkpoint_;
  double seconds_before_;
  bool started_ = false, interrupted_ = false;
  double start_ = 0;  // steady clock seconds when run() started
};

}  // namespace hyb
