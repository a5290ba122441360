#include "util/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace hyb {

namespace {
double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, Mode mode, std::FILE* out)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), mode_(mode), out_(out) {
  if (mode_ == Mode::kAuto) mode_ = isatty(fileno(out_)) ? Mode::kTerminal : Mode::kPlain;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_ && visible_) finish(status_);
}

double Progress::elapsed() const { return seconds_between(start_, std::chrono::steady_clock::now()); }

double Progress::rate() const {
  const double t = elapsed();
  return t > 0 ? static_cast<double>(done_) / t : 0.0;
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  if (t >= 3600) return fmt::format("{}:{:02d}:{:02d}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

std::string Progress::format(const std::string& label, int64_t done, int64_t total, double elapsed,
                             const std::string& unit, const std::string& status, int bar_width) {
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(frac * bar_width);
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  std::string line = label.empty() ? "" : label + " ";
  line += "[" + std::string(filled, '#') + std::string(bar_width - filled, '-') + "] ";
  line += fmt::format("{}/{} {:.0f}% | {:.1f} {}/s", done, total, 100 * frac, rate, unit);
  if (done < total) line += " | ETA " + (rate > 0 ? format_duration((total - done) / rate) : std::string("?"));
  else line += " | " + format_duration(elapsed);
  if (!status.empty()) line += " | " + status;
  return line;
}

void Progress::update(int64_t done, const std::string& status) {
  done_ = done;
  if (!status.empty()) status_ = status;
  const auto now = std::chrono::steady_clock::now();
  const double since = seconds_between(last_draw_, now);
  if ((mode_ == Mode::kTerminal && (!visible_ || since >= 0.1)) || (mode_ == Mode::kPlain && since >= plain_interval))
    draw(false);
}

void Progress::finish(const std::string& status) {
  if (!status.empty()) status_ = status;
  if (mode_ == Mode::kTerminal || printed_) draw(true);
  finished_ = true;
}

void Progress::clear() {
  if (mode_ == Mode::kTerminal && visible_) {
    std::fprintf(out_, "\r%s\r", std::string(last_width_, ' ').c_str());
    std::fflush(out_);
  }
  visible_ = false;
  last_width_ = 0;
}

void Progress::draw(bool final) {
  last_draw_ = std::chrono::steady_clock::now();
  if (mode_ == Mode::kSilent) return;
  const std::string line = format(label_, done_, total_, elapsed(), unit_, status_);
  if (mode_ == Mode::kTerminal) {
    // Pad over the previous line's tail; newline only at the end.
    const size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
    std::fprintf(out_, "\r%s%s%s", line.c_str(), std::string(pad, ' ').c_str(), final ? "\n" : "");
    last_width_ = final ? 0 : line.size();
    visible_ = !final;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
    printed_ = true;
  }
  std::fflush(out_);
}

}  // namespace hyb
