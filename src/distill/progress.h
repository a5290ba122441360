// distill/progress: a minimal progress bar on stderr (stand-in until util/progress.h lands):
//   [##########----------]  50% 500/1000 steps | 41.2k tok/s | ETA 1m05s | <caller's text>
// On a terminal the line is redrawn in place (at most 5 times a second); otherwise (a log file,
// CI) one plain line is printed every 30 seconds, so logs stay readable.
#pragma once
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hyb {

inline std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

inline std::string format_count(double v) {
  if (v >= 1e9) return fmt::format("{:.2f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;
  // total: steps to reach; start: steps already done (a resumed run), not counted in the rate.
  ProgressBar(int64_t total, int64_t start, bool enabled)
      : total_(total), start_(start), enabled_(enabled), tty_(isatty(fileno(stderr))), t0_(Clock::now()) {}

  // done: steps finished; units: tokens (or other units) processed since this bar started.
  void update(int64_t done, double units, const std::string& text, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_).count();
    if (!force && since_draw < (tty_ ? 0.2 : 30.0)) return;
    last_ = now;
    const double el = std::chrono::duration<double>(now - t0_).count();
    const double rate = el > 0 ? units / el : 0;  // units per second
    const double steps_rate = el > 0 ? (done - start_) / el : 0;
    const double eta = steps_rate > 0 ? (total_ - done) / steps_rate : -1;
    const int width = 20;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : 0;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '-');
    const std::string line =
        fmt::format("[{}] {:3d}% {}/{} steps | {} tok/s | ETA {} | {}", bar,
                    total_ > 0 ? static_cast<int>(100 * done / total_) : 0, done, total_, format_count(rate),
                    format_duration(eta), text);
    if (tty_) fmt::print(stderr, "\r{}\x1b[K", line);
    else fmt::print(stderr, "{}\n", line);
    std::fflush(stderr);
    drawn_ = true;
  }
  // Ends the in-place line so later messages start on a fresh one.
  void finish() {
    if (enabled_ && tty_ && drawn_) fmt::print(stderr, "\n");
    drawn_ = false;
  }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

 private:
  int64_t total_, start_;
  bool enabled_, tty_, drawn_ = false;
  Clock::time_point t0_, last_{};
};

}  // namespace hyb
