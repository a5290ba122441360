#include "util/threads.h"

#include <ATen/Parallel.h>

#include <thread>

namespace hyb {

int configure_threads(int requested, int64_t hidden_size) {
  int n = requested;
  if (n <= 0) n = hidden_size >= 256 ? static_cast<int>(std::thread::hardware_concurrency()) : 1;
  if (n < 1) n = 1;
  at::set_num_threads(n);
  return n;
}

}  // namespace hyb
