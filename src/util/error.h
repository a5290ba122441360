// Errors that reach the user. Every failure caused by input (a file, a flag, a config) throws
// hyb::Error with the file (or flag) it concerns and the problem in one line; the CLI prints
// "error: <file>: <problem>" and exits non-zero. Programming errors use TORCH_CHECK / assert.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace hyb {

class Error : public std::runtime_error {
 public:
  Error(const std::string& where, const std::string& problem)
      : std::runtime_error(where.empty() ? problem : where + ": " + problem),
        where_(where), problem_(problem) {}
  const std::string& where() const { return where_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string where_, problem_;
};

// fail("model.safetensors", "header length {} exceeds file size {}", n, size)
template <typename... Args>
[[noreturn]] void fail(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(where, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace hyb
