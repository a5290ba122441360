// dist/process_group: our collectives on c10d. The only file that includes c10d headers; the
// backends compile in only where CMake found their headers (HYB_DIST_GLOO, HYB_DIST_NCCL).
#include "dist/process_group.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <map>

#include "util/error.h"
#include "util/torch_compat.h"

#if defined(HYB_DIST_GLOO) || defined(HYB_DIST_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include HYB_C10D_BACKEND_HEADER
#endif
#if defined(HYB_DIST_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(HYB_DIST_NCCL) && defined(HYB_WITH_CUDA)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace hyb::dist {

namespace {

// The integer in variable `name`; `fallback` when it is unset and a fallback is given.
int env_int(const char* name, const char* launcher, std::optional<int> fallback = std::nullopt) {
  const char* v = std::getenv(name);
  if (!v) {
    if (fallback) return *fallback;
    fail(name, "not set ({} sets it together with the others of its environment)", launcher);
  }
  try {
    size_t used = 0;
    const int x = std::stoi(v, &used);
    if (used == std::string(v).size()) return x;
  } catch (const std::exception&) {
  }
  fail(name, "'{}' is not an integer", v);
}

std::string env_str(const char* name, const char* launcher, const char* fallback = nullptr) {
  const char* v = std::getenv(name);
  if (v && *v) return v;
  if (fallback) return fallback;
  fail(name, "not set ({} sets it together with the others of its environment)", launcher);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // Up to the first comma outside brackets; a bracket holds ranges, of which the first number
  // (zero padding kept) stands in for it.
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == ',' && depth == 0) break;
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    first += c;
  }
  const size_t open = first.find('[');
  if (open == std::string::npos) return first;
  const size_t close = first.find(']', open);
  if (close == std::string::npos) fail("SLURM_JOB_NODELIST", "unbalanced '[' in '{}'", nodelist);
  const std::string ranges = first.substr(open + 1, close - open - 1);
  const size_t end = ranges.find_first_of(",-");
  return first.substr(0, open) + ranges.substr(0, end) + first.substr(close + 1);
}

std::optional<WorkerEnv> worker_env() {
  WorkerEnv e;
  if (std::getenv("HYB_RANK")) {
    const char* l = "hybridize --gpus";
    e.rank = env_int("HYB_RANK", l), e.world_size = env_int("HYB_WORLD_SIZE", l);
    e.port = env_int("HYB_MASTER_PORT", l);
    e.master_addr = env_str("HYB_MASTER_ADDR", l, "127.0.0.1");
    e.local_rank = env_int("HYB_LOCAL_RANK", l, e.rank), e.local_world_size = env_int("HYB_LOCAL_WORLD_SIZE", l, e.world_size);
  } else if (std::getenv("RANK") && std::getenv("WORLD_SIZE")) {
    const char* l = "torchrun";
    e.launcher = l;
    e.rank = env_int("RANK", l), e.world_size = env_int("WORLD_SIZE", l);
    e.local_rank = env_int("LOCAL_RANK", l, 0), e.local_world_size = env_int("LOCAL_WORLD_SIZE", l, 1);
    e.master_addr = env_str("MASTER_ADDR", l), e.port = env_int("MASTER_PORT", l);
  } else if (std::getenv("SLURM_PROCID") && std::getenv("SLURM_NTASKS")) {
    const char* l = "Slurm";
    e.launcher = l;
    e.rank = env_int("SLURM_PROCID", l), e.world_size = env_int("SLURM_NTASKS", l);
    e.local_rank = env_int("SLURM_LOCALID", l, 0);
    e.local_world_size = env_int("SLURM_NTASKS_PER_NODE", l, 0);  // set only with --ntasks-per-node; 0: unknown
    if (const char* m = std::getenv("MASTER_ADDR"); m && *m) e.master_addr = m;
    else e.master_addr = first_slurm_host(env_str("SLURM_JOB_NODELIST", l, std::getenv("SLURM_NODELIST")));
    e.port = env_int("MASTER_PORT", l, 29500);
  } else {
    return std::nullopt;
  }
  if (e.world_size < 1 || e.rank < 0 || e.rank >= e.world_size)
    fail(e.launcher, "rank {} outside a world of {}", e.rank, e.world_size);
  if (e.local_rank < 0) fail(e.launcher, "local rank {} is negative", e.local_rank);
  if (e.port <= 0 || e.port > 65535) fail(e.launcher, "master port {} is not a port", e.port);
  if (e.world_size == 1 && e.launcher != "hybridize --gpus") return std::nullopt;  // one process: no group
  return e;
}

std::string backend_missing(bool cuda) {
  if (cuda) {
#if !defined(HYB_WITH_CUDA)
    return "this build has no CUDA";
#elif !defined(HYB_DIST_NCCL)
    return "this build has no NCCL process group (CMake found no nccl.h or ProcessGroupNCCL.hpp; "
           "see HYB_NCCL_INCLUDE_DIR in the CMake cache)";
#else
    return "";
#endif
  }
#if !defined(HYB_DIST_GLOO)
  return "this build has no Gloo process group (CMake found no gloo headers or ProcessGroupGloo.hpp; "
         "install libgloo-dev or set HYB_GLOO_INCLUDE_DIR)";
#else
  return "";
#endif
}

#if defined(HYB_DIST_GLOO) || defined(HYB_DIST_NCCL)

namespace {
std::string this_host() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : std::string("this host");
}
bool loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }
}  // namespace

struct ProcessGroup::Impl {
  int rank = 0, world = 1;
  std::string launcher;
  at::Device device{at::kCPU};
  c10::intrusive_ptr<::c10d::Store> store;
  c10::intrusive_ptr<HYB_C10D_BACKEND> backend;

  ~Impl() {
#if defined(HYB_DIST_NCCL) && defined(HYB_WITH_CUDA)
    // NCCL wants an explicit end (Python's destroy_process_group()); without one LibTorch >= 2.4
    // warns at exit that resources may leak. Every rank gets here together on a normal exit:
    // shut down cleanly. While an exception unwinds, other ranks may never join: abort instead.
    auto* nccl = dynamic_cast<::c10d::ProcessGroupNCCL*>(backend.get());
    if (nccl && std::uncaught_exceptions() == 0) nccl->shutdown();
    else if (nccl) nccl->abort();
#endif
  }

  // Waits for a collective; a failure (a peer stopped, a host unreachable, a timeout) becomes one
  // line naming this rank and host and the backend's reason (which names the peer's address).
  void wait(const c10::intrusive_ptr<::c10d::Work>& work, const char* what) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      std::string reason = e.what();
      if (const size_t nl = reason.find('\n'); nl != std::string::npos) reason.resize(nl);
      fail(launcher, "rank {} on {}: {} failed (another process stopped or cannot be reached): {}", rank, this_host(),
           what, reason);
    }
  }

  void all_reduce_flat(at::Tensor& flat) {
    std::vector<at::Tensor> t{flat};
    wait(backend->allreduce(t), "all-reduce");  // SUM (Gloo has no AVG: callers divide)
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return impl_->rank; }
int ProcessGroup::world_size() const { return impl_->world; }

std::unique_ptr<ProcessGroup> ProcessGroup::create(const WorkerEnv& env, bool cuda, std::chrono::seconds timeout) {
  if (const std::string why = backend_missing(cuda); !why.empty()) fail("--gpus", "{}", why);
  // NVLink multicast (NVLS) stays off in every process we start (the launcher sets it too).
  setenv("NCCL_NVLS_ENABLE", "0", 1);
  auto impl = std::make_unique<Impl>();
  impl->rank = env.rank;
  impl->world = env.world_size;
  impl->launcher = env.launcher;
  ::c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.port);
  so.isServer = env.rank == 0;
  so.numWorkers = static_cast<size_t>(env.world_size);
  so.waitWorkers = true;
  so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
  try {
    impl->store = c10::make_intrusive<::c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    fail(env.launcher, "rank {} on {}: rendezvous with {}:{} failed: {}", env.rank, this_host(), env.master_addr,
         env.port, e.what());
  }
  if (cuda) {
#if defined(HYB_DIST_NCCL) && defined(HYB_WITH_CUDA)
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank));
    impl->device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    auto opts = ::c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    impl->backend = c10::make_intrusive<::c10d::ProcessGroupNCCL>(impl->store, env.rank, env.world_size, opts);
#endif
  } else {
#if defined(HYB_DIST_GLOO)
    auto opts =
        ::c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    try {
      // One host: the loopback. Across hosts: the interface GLOO_SOCKET_IFNAME names (as in
      // PyTorch), else the one this host's name resolves to.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (loopback(env.master_addr)) opts->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else if (ifname && *ifname) opts->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else opts->devices.push_back(::c10d::ProcessGroupGloo::createDefaultDevice());
      impl->backend = c10::make_intrusive<::c10d::ProcessGroupGloo>(impl->store, env.rank, env.world_size, opts);
    } catch (const std::exception& e) {
      fail(env.launcher, "rank {} on {}: Gloo process group: {}", env.rank, this_host(), e.what());
    }
#endif
  }
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

void ProcessGroup::all_reduce(std::vector<at::Tensor>& tensors, Reduce op) {
  at::NoGradGuard ng;
  // One packed buffer per dtype, in first-appearance order (the same on every rank).
  std::map<at::ScalarType, std::vector<size_t>> groups;
  std::vector<at::ScalarType> order;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) continue;
    const auto t = tensors[i].scalar_type();
    if (!groups.count(t)) order.push_back(t);
    groups[t].push_back(i);
  }
  for (const auto dt : order) {
    std::vector<at::Tensor> parts;
    for (size_t i : groups[dt]) parts.push_back(tensors[i].to(impl_->device).reshape({-1}));
    at::Tensor flat = at::cat(parts);
    impl_->all_reduce_flat(flat);
    if (op == Reduce::kAvg) flat.div_(static_cast<double>(impl_->world));
    int64_t off = 0;
    for (size_t i : groups[dt]) {
      at::Tensor& t = tensors[i];
      const int64_t n = t.numel();
      t.copy_(flat.narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }
}

std::vector<double> ProcessGroup::all_reduce(const std::vector<double>& values, Reduce op) {
  if (values.empty()) return {};
  std::vector<at::Tensor> t{at::tensor(values, at::kDouble).to(impl_->device)};
  all_reduce(t, op);
  const at::Tensor c = t[0].cpu();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

bool ProcessGroup::any(bool flag) { return all_reduce(std::vector<double>{flag ? 1.0 : 0.0}, Reduce::kSum)[0] > 0; }

std::vector<std::vector<double>> ProcessGroup::all_gather(const std::vector<double>& mine) {
  const int W = impl_->world;
  auto gather = [&](const at::Tensor& in) {
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < W; ++r) out[0].push_back(at::empty_like(in));
    std::vector<at::Tensor> inputs{in};
    impl_->wait(impl_->backend->allgather(out, inputs), "all-gather");
    return out[0];
  };
  // Lengths first, then every rank's values padded to the longest.
  const auto lens =
      gather(at::tensor(std::vector<int64_t>{static_cast<int64_t>(mine.size())}, at::kLong).to(impl_->device));
  int64_t longest = 0;
  std::vector<int64_t> n(W);
  for (int r = 0; r < W; ++r) longest = std::max(longest, n[r] = lens[r].cpu().item<int64_t>());
  at::Tensor padded = at::zeros({std::max<int64_t>(longest, 1)}, at::kDouble);
  for (size_t i = 0; i < mine.size(); ++i) padded[static_cast<int64_t>(i)] = mine[i];
  const auto vals = gather(padded.to(impl_->device));
  std::vector<std::vector<double>> res(W);
  for (int r = 0; r < W; ++r) {
    const at::Tensor c = vals[r].cpu();
    res[r].assign(c.data_ptr<double>(), c.data_ptr<double>() + n[r]);
  }
  return res;
}

void ProcessGroup::broadcast(std::vector<double>& values, int root) {
  if (values.empty()) return;
  std::vector<at::Tensor> t{at::tensor(values, at::kDouble).to(impl_->device)};
  ::c10d::BroadcastOptions o;
  o.rootRank = root;
  impl_->wait(impl_->backend->broadcast(t, o), "broadcast");
  const at::Tensor c = t[0].cpu();
  values.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void ProcessGroup::barrier() {
  ::c10d::BarrierOptions o;
  if (impl_->device.is_cuda()) o.device_ids = {impl_->device.index()};
  impl_->wait(impl_->backend->barrier(o), "barrier");
}

#else  // no backend in this build: create() explains what is missing

struct ProcessGroup::Impl {};
ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;
std::unique_ptr<ProcessGroup> ProcessGroup::create(const WorkerEnv&, bool cuda, std::chrono::seconds) {
  fail("--gpus", "{}", backend_missing(cuda));
}
int ProcessGroup::rank() const { return 0; }
int ProcessGroup::world_size() const { return 1; }
void ProcessGroup::all_reduce(std::vector<at::Tensor>&, Reduce) {}
std::vector<double> ProcessGroup::all_reduce(const std::vector<double>& v, Reduce) { return v; }
bool ProcessGroup::any(bool flag) { return flag; }
std::vector<std::vector<double>> ProcessGroup::all_gather(const std::vector<double>& mine) { return {mine}; }
void ProcessGroup::broadcast(std::vector<double>&, int) {}
void ProcessGroup::barrier() {}

#endif

}  // namespace hyb::dist
