// Helpers shared by tests: locating ../shared data (skip outside CI, fail under CI=true).
#pragma once
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "util/error.h"
#include "util/files.h"

namespace hyb::test {

inline std::filesystem::path project_root() {
  if (const char* r = std::getenv("HYB_ROOT")) return r;
  return std::filesystem::current_path();
}

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

// Path of ../shared/<rel> seen from the project root (or $HYB_SHARED/<rel>, for machines where
// the data sits elsewhere), or "" if it does not exist.
inline std::filesystem::path shared_path(const std::string& rel) {
  const char* env = std::getenv("HYB_SHARED");
  auto p = (env ? std::filesystem::path(env) : project_root() / ".." / "shared") / rel;
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

// The `hybridize` executable the tests run: $HYB_BIN, else the one built beside this test binary
// (CMake puts both in the build directory). "" when neither exists.
inline std::filesystem::path hybridize_binary() {
  namespace fs = std::filesystem;
  if (const char* b = std::getenv("HYB_BIN")) return fs::exists(b) ? fs::path(b) : fs::path();
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path beside = ec ? fs::path() : self.parent_path() / "hybridize";
  return !beside.empty() && fs::exists(beside) ? beside : fs::path();
}

// Temporary directory unique to the running test, removed and recreated.
// One per checkout (named after the test binary's folder), so that the suites of two checkouts
// running at once on one machine never share a folder.
inline std::filesystem::path temp_dir(const std::string& name) {
  std::error_code ec;
  const auto exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
  const std::string checkout = std::to_string(std::hash<std::string>{}(exe_dir) % 1000000);
  auto p = std::filesystem::temp_directory_path() / ("hyb_test_" + checkout + "_" + name);
  remove_tree(p);  // not std::filesystem::remove_all: see util/files.h
  std::filesystem::create_directories(p);
  return p;
}

// Runs a shell command and returns what it wrote to stdout (add " 2>&1" to `cmd` for stderr too);
// rc is its exit status, -1 if it did not exit normally.
inline std::string run_command(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return rc = -1, out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The message of the hyb::Error `f` throws, or "" if it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace hyb::test

// Resolves ../shared/<rel> into `var`; skips the test (or fails it under CI=true) when missing.
#define HYB_REQUIRE_SHARED(var, rel)                                                          \
  const std::filesystem::path var = ::hyb::test::shared_path(rel);                           \
  if (var.empty()) {                                                                          \
    if (::hyb::test::under_ci()) FAIL() << "missing ../shared/" << (rel) << " under CI=true"; \
    GTEST_SKIP() << "../shared/" << (rel) << " not found (a user's clone has no ../shared)";   \
  }

// Resolves the `hybridize` executable into `var` (a std::string); the build always makes it, so a
// missing one is a failure, never a skip.
#define HYB_REQUIRE_BINARY(var)                                                          \
  const std::string var = ::hyb::test::hybridize_binary().string();                     \
  if (var.empty()) FAIL() << "the hybridize executable was not found (HYB_BIN or beside the test binary)";
