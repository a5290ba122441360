#include "train/checkpoint.h"

#include <ATen/ATen.h>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/files.h"
#include "util/json.h"

namespace hyb {
namespace fs = std::filesystem;

void save_checkpoint(const fs::path& dir, const std::vector<CheckpointPart>& parts, const nlohmann::json& state) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& part : parts) {
    TrainableParams& p = *part.params;
    for (size_t i = 0; i < p.masters.size(); ++i) {
      const std::string name = part.prefix + p.names[i];
      tensors.emplace_back("master/" + name, p.masters[i].detach());
      tensors.emplace_back("exp_avg/" + name, p.opt.exp_avg()[i]);
      tensors.emplace_back("exp_avg_sq/" + name, p.opt.exp_avg_sq()[i]);
    }
  }
  save_safetensors(checkpoint_path(dir), tensors, {{"format", "pt"}, {"state", state.dump()}});
  write_file_atomic(dir / "checkpoint.json", state.dump(2) + "\n");
}

fs::path checkpoint_path(const fs::path& dir) { return dir / "checkpoint.safetensors"; }

nlohmann::json read_checkpoint_state(const fs::path& dir) {
  const fs::path path = checkpoint_path(dir);
  auto f = SafetensorsFile::open(path);
  auto it = f->metadata().find("state");
  if (it == f->metadata().end()) fail(path.string(), "no \"state\" metadata (not a training checkpoint)");
  nlohmann::json state = parse_json(it->second, path.string() + ": \"state\" metadata");
  json_int(state, "step", path.string());
  json_number(state, "seconds", path.string());
  json_object_key(state, "fingerprint", path.string());
  return state;
}

nlohmann::json load_checkpoint(const fs::path& dir, const std::vector<CheckpointPart>& parts) {
  const fs::path path = checkpoint_path(dir);
  auto f = SafetensorsFile::open(path);
  nlohmann::json state = read_checkpoint_state(dir);
  const int64_t step = state["step"].get<int64_t>();  // checked by read_checkpoint_state
  at::NoGradGuard ng;
  auto restore = [&](const std::string& name, at::Tensor& dst) {
    if (!f->has(name)) fail(path.string(), "missing tensor '{}'", name);
    at::Tensor v = f->tensor(name);
    if (v.sizes() != dst.sizes() || v.scalar_type() != at::kFloat)
      fail(path.string(), "tensor '{}' has shape {} ({}), expected {} (float32)", name, c10::str(v.sizes()),
           f->entry(name).dtype, c10::str(dst.sizes()));
    // A diverged or damaged run: resuming would train on from NaN and rewrite every output with it.
    if (!at::isfinite(v).all().item<bool>())
      fail(path.string(), "tensor '{}' holds NaN or infinite values (training diverged or the file is damaged): "
           "restart without --resume", name);
    dst.copy_(v);  // in place: keeps the masters as the optimiser's leaves
  };
  for (const auto& part : parts) {
    TrainableParams& p = *part.params;
    for (size_t i = 0; i < p.masters.size(); ++i) {
      const std::string name = part.prefix + p.names[i];
      restore("master/" + name, p.masters[i]);
      restore("exp_avg/" + name, p.opt.exp_avg()[i]);
      restore("exp_avg_sq/" + name, p.opt.exp_avg_sq()[i]);
    }
    p.opt.set_steps(step);
  }
  return state;
}

void require_same_settings(const nlohmann::json& now, const nlohmann::json& state) {
  const nlohmann::json& was = state["fingerprint"];  // an object: read_checkpoint_state checks it
  for (auto it = now.begin(); it != now.end(); ++it)
    if (!was.contains(it.key()) || was[it.key()] != it.value())
      fail("--resume", "'{}' was {} in the checkpoint, now {}: resume with the same settings", it.key(),
           was.contains(it.key()) ? was[it.key()].dump() : "absent", it.value().dump());
}

}  // namespace hyb
