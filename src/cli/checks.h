// cli/checks: CLI11 validators for numeric flags, and the parser of token-id lists. CLI11's Range and PositiveNumber let NaN through
// (every comparison with it is false) and print their bounds as 309-digit numbers; these refuse
// NaN and infinity and say the allowed range in words: "--clip: must be a number >= 0, got nan".
#pragma once
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <sstream>
#include <vector>
#include <limits>
#include <string>

#include "util/error.h"

namespace hyb::cli {

// A finite number in [lo, hi] (lo excluded when `open_lo`); `what` describes the range.
inline CLI::Validator number_in(double lo, double hi, const std::string& what, bool open_lo = false) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        const char* b = s.c_str();
        char* end = nullptr;
        errno = 0;
        const double x = std::strtod(b, &end);
        if (s.empty() || end != b + s.size() || errno == ERANGE || !std::isfinite(x))
          return "must be " + what + ", got '" + s + "'";
        if (x < lo || x > hi || (open_lo && x == lo)) return "must be " + what + ", got " + s;
        return {};
      },
      what);
}

inline CLI::Validator non_negative() {
  return number_in(0, std::numeric_limits<double>::max(), "a number >= 0");
}
inline CLI::Validator positive() {
  return number_in(0, std::numeric_limits<double>::max(), "a number > 0", /*open_lo=*/true);
}
// --threads: 0 (the default for the model) up to a bound far above any machine's cores (100000
// threads hung the process creating them).
inline CLI::Validator thread_count() { return number_in(0, 1024, "a thread count from 0 (auto) to 1024"); }

// Comma-separated token ids ("1,2,3") of the flag `flag`; hyb::Error naming the flag for anything
// else (whole items only: std::stoll alone read "1 2" as 1 and "1x" as 1).
inline std::vector<int64_t> parse_token_ids(const std::string& flag, const std::string& s) {
  std::vector<int64_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || id < 0)
      fail(flag, "'{}' is not a token id (expected comma-separated non-negative integers, e.g. 1,2,3)", item);
    ids.push_back(id);
  }
  if (ids.empty()) fail(flag, "no token ids given");
  return ids;
}

}  // namespace hyb::cli
