#include "dist/launch.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "util/error.h"

extern char** environ;

namespace hyb::dist {

namespace {

volatile sig_atomic_t g_signal = 0;  // last signal the launcher received
void on_signal(int s) { g_signal = s; }

// This process's argv, as the kernel has it.
std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t i = 0; i < all.size();) {
    const size_t end = all.find('\0', i);
    args.push_back(all.substr(i, end - i));
    i = end == std::string::npos ? all.size() : end + 1;
  }
  if (args.empty()) fail("/proc/self/cmdline", "cannot read this process's arguments");
  return args;
}

// A port the kernel considers free on 127.0.0.1 now (rank 0 binds it moments later).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("--gpus", "socket: {}", std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    fail("--gpus", "no free port on 127.0.0.1: {}", std::strerror(errno));
  }
  close(fd);
  return ntohs(a.sin_port);
}

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

int launch_workers(const LaunchOptions& o) {
  const int n = o.gpus;
  const std::vector<std::string> args = own_argv();
  setenv("NCCL_NVLS_ENABLE", "0", 1);  // NVLink multicast off, in every process we start
  // One host: a free port on the loopback. Several: the --master every host was given.
  std::string master_addr = "127.0.0.1";
  int port = 0;
  if (o.nnodes > 1) {
    const size_t colon = o.master.rfind(':');
    master_addr = o.master.substr(0, colon);
    port = std::stoi(o.master.substr(colon + 1));  // checked by the flag's validator
  } else {
    port = free_port();
  }
  const pid_t launcher = getpid();

  // SIGINT / SIGTERM: remembered here, forwarded to the workers (each in its own process group,
  // so a terminal's ^C reaches them once, through us).
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids(n, -1);
  for (int r = 0; r < n; ++r) {
    // Everything the child needs is built before fork: between fork and exec only system calls.
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      const std::string v = *e;
      if (v.rfind("HYB_RANK=", 0) == 0 || v.rfind("HYB_WORLD_SIZE=", 0) == 0 || v.rfind("HYB_MASTER_", 0) == 0 ||
          v.rfind("HYB_LOCAL_", 0) == 0)
        continue;
      env_s.push_back(v);
    }
    env_s.push_back(fmt::format("HYB_RANK={}", o.node_rank * n + r));
    env_s.push_back(fmt::format("HYB_WORLD_SIZE={}", o.world()));
    env_s.push_back(fmt::format("HYB_LOCAL_RANK={}", r));
    env_s.push_back(fmt::format("HYB_LOCAL_WORLD_SIZE={}", n));
    env_s.push_back(fmt::format("HYB_MASTER_ADDR={}", master_addr));
    env_s.push_back(fmt::format("HYB_MASTER_PORT={}", port));
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
      for (int k = 0; k < r; ++k) kill(pids[k], SIGKILL);
      fail("--gpus", "fork: {}", std::strerror(errno));
    }
    if (pid == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // the launcher gone (even by SIGKILL): so are we
      if (getppid() != launcher) _exit(1);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      execve("/proc/self/exe", argv.data(), envp.data());
      _exit(127);
    }
    pids[r] = pid;
  }
  fmt::print(stderr, "launched {} workers (ranks {}-{} of {}, rendezvous {}:{})\n", n, o.node_rank * n,
             o.node_rank * n + n - 1, o.world(), master_addr, port);

  int alive = n, failed_rank = -1, failed_status = 0, code = 0;
  int forwarded = 0;
  auto kill_deadline = std::chrono::steady_clock::time_point::max();
  bool killed_hard = false;
  std::vector<int> status(n, 0);
  std::vector<bool> stopped(n, false);  // stopped by us after another rank failed
  while (alive > 0) {
    if (g_signal && g_signal != forwarded) {  // forward each signal received (a second ^C kills)
      const int s = g_signal;
      for (int r = 0; r < n; ++r)
        if (pids[r] > 0) kill(pids[r], s);
      forwarded = s;
      g_signal = 0;
    }
    int st = 0;
    const pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid < 0 && errno != EINTR) break;
    if (pid <= 0) {
      if (!killed_hard && std::chrono::steady_clock::now() > kill_deadline) {
        for (int r = 0; r < n; ++r)
          if (pids[r] > 0) kill(pids[r], SIGKILL);
        killed_hard = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    int r = 0;
    while (r < n && pids[r] != pid) ++r;
    if (r == n) continue;
    pids[r] = -1;
    status[r] = st;
    --alive;
    const bool clean = WIFEXITED(st) && (WEXITSTATUS(st) == 0 || (WEXITSTATUS(st) == 130 && forwarded));
    if (!clean && failed_rank < 0) {
      failed_rank = r, failed_status = st;
      if (alive > 0) {
        fmt::print(stderr, "error: worker rank {} {}; stopping the other workers\n", o.node_rank * n + r, describe(st));
        // Ranks that failed at the same moment on their own (a peer sees the failed rank's
        // connection close) are reaped first, so that the report names them as failed, not stopped.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        for (int k = 0; k < n; ++k) {
          int st2 = 0;
          if (pids[k] > 0 && waitpid(pids[k], &st2, WNOHANG) == pids[k]) pids[k] = -1, status[k] = st2, --alive;
        }
        for (int k = 0; k < n; ++k)
          if (pids[k] > 0) kill(pids[k], SIGTERM), stopped[k] = true;
        kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      }
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (failed_rank >= 0) {
    // Every rank that failed on its own (a rank may fail because another one died: both are named).
    std::string also;
    for (int r = 0; r < n; ++r) {
      const bool clean = WIFEXITED(status[r]) && WEXITSTATUS(status[r]) == 0;
      if (r != failed_rank && !clean && !stopped[r])
        also += fmt::format("; rank {} {}", o.node_rank * n + r, describe(status[r]));
    }
    fmt::print(stderr, "error: --gpus {}: worker rank {} {}{}\n", n, o.node_rank * n + failed_rank, describe(failed_status),
               also);
    code = WIFEXITED(failed_status) && WEXITSTATUS(failed_status) != 0 ? WEXITSTATUS(failed_status) : 1;
    return code;
  }
  for (int r = 0; r < n; ++r)
    if (WIFEXITED(status[r]) && WEXITSTATUS(status[r]) != 0) code = WEXITSTATUS(status[r]);  // 130: stopped
  return code;
}

std::unique_ptr<ProcessGroup> join_or_launch(const LaunchOptions& o, std::string& device) {
  const int n = o.world();
  const auto env = worker_env();
  if (!env && n <= 1) return nullptr;
  if (o.gpus < 1 || o.nnodes < 1) fail("--gpus", "--gpus and --nnodes must be at least 1");
  const bool cuda =
      device == "cuda" || (device == "auto" && torch::cuda::is_available()) || device.rfind("cuda:", 0) == 0;
  if (device.rfind("cuda:", 0) == 0 && !env)
    fail("--device", "{} with --gpus {}: each worker uses cuda:<local rank>; pass --device cuda", device, o.gpus);
  if (!env) {
    if (const std::string why = backend_missing(cuda); !why.empty())
      fail("--gpus", "{} processes on {}: {}", n, cuda ? "CUDA" : "CPU", why);
    if (cuda && static_cast<int>(torch::cuda::device_count()) < o.gpus)
      fail("--gpus", "{} requested, this machine has {} CUDA devices", o.gpus, torch::cuda::device_count());
    std::fflush(nullptr);
    std::exit(launch_workers(o));
  }
  if (env->launcher != "hybridize --gpus") {
    // torchrun / srun started every process: each is one rank, on cuda:<local rank>.
    if (o.gpus != 1 || o.nnodes != 1)
      fail("--gpus", "{} started this process as rank {} of {}: each process is one rank; leave --gpus and --nnodes out",
           env->launcher, env->rank, env->world_size);
  } else if (env->world_size != n) {
    fail("--gpus", "{} processes given (--gpus x --nnodes), but this worker belongs to a world of {} (HYB_WORLD_SIZE)", n,
         env->world_size);
  }
  int timeout_s = 1800;  // a rank may wait this long for the others (model loading, a slow step)
  if (const char* t = std::getenv("HYB_DIST_TIMEOUT")) timeout_s = std::max(1, std::atoi(t));
  auto group = ProcessGroup::create(*env, cuda, std::chrono::seconds(timeout_s));
  if (cuda) device = "cuda:" + std::to_string(env->local_rank);
  return group;
}

}  // namespace hyb::dist
