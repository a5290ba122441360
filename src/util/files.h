// util/files: file-system helpers that the standard library would otherwise provide.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace hyb {

// Removes `path` and everything below it (nothing if it does not exist); throws hyb::Error naming
// the entry that could not be removed. Used instead of std::filesystem::remove_all: the pip
// LibTorch 2.x exports its own copy of that function, which the dynamic linker can bind in place
// of libstdc++'s, and that copy crashed (a call through a null pointer) in our test binary on the
// GPU machine.
void remove_tree(const std::filesystem::path& path);

// Writes through `body` into PATH.tmp, fsyncs, then renames over PATH: readers see the old file
// or the new one, never half of one (a killed run leaves at most a stale .tmp).
void write_stream_atomic(const std::filesystem::path& path, const std::function<void(std::ofstream&)>& body);
// Write `contents` to `path` atomically (temporary file + rename). For JSON outputs and logs.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

}  // namespace hyb
