// util/progress: a progress bar on stderr for long runs: done/total, rate, ETA and a status
// string. On a terminal it redraws one line in place (at most ~10 times a second); otherwise
// (logs, CI, a pipe) it prints a plain line every `plain_interval` seconds, the first one only
// after that long, and a last one at finish() when it printed any: a step shorter than
// `plain_interval` leaves no line in a log, where the command's own result line follows.
// Pure C++.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace hyb {

class Progress {
 public:
  enum class Mode { kAuto, kTerminal, kPlain, kSilent };

  Progress(std::string label, int64_t total, std::string unit = "samples", Mode mode = Mode::kAuto,
           std::FILE* out = stderr);
  ~Progress();  // finishes the line if finish() was not called

  // Sets the count done so far (and optionally the status) and redraws if it is time.
  void update(int64_t done, const std::string& status = "");
  void add(int64_t n, const std::string& status = "") { update(done_ + n, status); }
  // Final draw with a newline (in plain mode only after earlier lines).
  void finish(const std::string& status = "");
  // Erases the bar from the terminal so that the caller's output (a result row) starts on a clean
  // line; the next update() draws it again. Nothing in plain mode. A bar cleared and never
  // updated again leaves nothing behind (the destructor draws no final line).
  void clear();

  int64_t done() const { return done_; }
  double elapsed() const;  // seconds since construction
  double rate() const;     // units per second so far

  double plain_interval = 5.0;  // seconds between plain lines

  // The text of one line (no "\r" or newline), e.g.
  //   "arc_easy [########----------] 812/2376 34% | 41.2 samples/s | ETA 0:38 | batch 12"
  static std::string format(const std::string& label, int64_t done, int64_t total, double elapsed,
                            const std::string& unit, const std::string& status, int bar_width = 24);
  static std::string format_duration(double seconds);  // "0:38", "1:02:03"

 private:
  void draw(bool final);

  std::string label_, unit_, status_;
  int64_t total_, done_ = 0;
  Mode mode_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool visible_ = false;   // terminal: a line is on screen, not yet ended by a newline
  bool printed_ = false;   // plain: a line was printed
  bool finished_ = false;
  size_t last_width_ = 0;
};

}  // namespace hyb
