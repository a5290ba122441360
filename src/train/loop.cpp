#include "train/loop.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "dist/process_group.h"
#include "util/interrupt.h"
#include "util/progress.h"

namespace hyb {

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

TrainLoop::TrainLoop(LoopOptions opt, int64_t step, double seconds_before)
    : o_(std::move(opt)), step_(step), last_checkpoint_(step > 0 ? step : -1), seconds_before_(seconds_before) {}

double TrainLoop::seconds() const { return seconds_before_ + (started_ ? now() - start_ : 0.0); }

bool TrainLoop::stop_requested() const {  // agreed by every rank (each rank's signal flag may differ)
  const bool mine = (o_.catch_signals && StopOnSignal::stop_requested()) ||
                    (o_.stop_after_steps > 0 && step_ >= o_.stop_after_steps);
  return o_.group ? o_.group->any(mine) : mine;
}

bool TrainLoop::run(const LoopHooks& h) {
  std::unique_ptr<StopOnSignal> signals;
  if (o_.catch_signals) signals = std::make_unique<StopOnSignal>();
  // The bar counts this run's tokens, so its rate is tokens/s and its ETA the remaining time.
  Progress bar(o_.name, (o_.total_steps - step_) * o_.tokens_per_step, "tok",
               o_.progress && o_.root ? Progress::Mode::kAuto : Progress::Mode::kSilent);
  bar.plain_interval = 30;
  started_ = true;
  start_ = now();
  int64_t tokens_run = 0;
  bool done = false;
  while (step_ < o_.total_steps && !done && !stop_requested()) {
    h.step(step_ + 1);
    ++step_;
    tokens_run += o_.tokens_per_step;
    done = h.finished && h.finished();
    const bool last = step_ == o_.total_steps || done;
    if (h.record) h.record(step_, last);
    if (h.checkpoint && ((o_.checkpoint_every > 0 && step_ % o_.checkpoint_every == 0) || last)) {
      if (o_.root) h.checkpoint();
      last_checkpoint_ = step_;
    }
    bar.update(tokens_run, h.status ? h.status() : fmt::format("step {}/{}", step_, o_.total_steps));
    if (h.after_step) h.after_step(step_);
  }
  bar.finish();
  if (step_ == o_.total_steps || done) return true;
  interrupted_ = true;  // stopped by a signal or --stop-after-steps
  if (!h.checkpoint) return false;
  if (last_checkpoint_ != step_ && o_.root) h.checkpoint();
  last_checkpoint_ = step_;
  if (o_.root)
    fmt::print(stderr, "{} {} at step {}/{}: checkpoint written to {}; rerun with --resume\n", o_.name,
               StopOnSignal::signal_number() ? fmt::format("interrupted by signal {}", StopOnSignal::signal_number())
                                             : std::string("stopped (--stop-after-steps)"),
               step_, o_.total_steps, o_.checkpoint_file.string());
  return false;
}

}  // namespace hyb
