// fuzz/fuzz_common: what every libFuzzer target shares. Each target feeds its bytes through the
// public function the CLI calls on that kind of file (as a file on disk when the API takes a
// path) and checks the one rule for untrusted input: the parser accepts it, or refuses it with a
// hyb::Error naming the file. Any other exception (a library's own text, which the CLI would print
// without the file's name), a crash, a hang, a leak or undefined behaviour is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/error.h"

namespace hyb::fuzz {

// A private directory for this process's files, removed at exit (libFuzzer runs one input at a
// time per process, so one directory per process is enough).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hyb-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

// Writes `size` bytes to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_input(const std::string& name, const void* data, size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::perror(p.c_str());
    std::abort();
  }
  return p;
}

// Runs `body`; hyb::Error is the expected refusal, anything else aborts (a finding).
template <typename F>
void accept_or_refuse(F&& body) {
  try {
    body();
  } catch (const hyb::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception other than hyb::Error escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace hyb::fuzz
