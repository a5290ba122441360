#include "distill/students.h"

#include <ATen/ATen.h>

#include <limits>

#include "dist/process_group.h"
#include "io/layers.h"
#include "io/safetensors.h"
#include "linear/linear.h"
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"
#include "util/files.h"

namespace hyb {
namespace fs = std::filesystem;

void Student::bind(at::ScalarType dtype) {
  for (size_t i = 0; i < slots.size(); ++i)
    *slots[i] = dtype == at::kFloat ? masters[i] : masters[i].to(dtype);
}

std::vector<Student> make_students(CausalLM& teacher, const LinearSettings& settings,
                                   const std::vector<int64_t>& layers, uint64_t seed, const AdamWOptions& adamw) {
  std::vector<Student> out;
  for (int64_t l : layers) {
    Student s;
    s.layer = l;
    s.module = make_linear_mixer_from_attention(settings, teacher.attention_weights(l), seed + static_cast<uint64_t>(l));
    std::vector<at::Tensor> params;
    std::vector<bool> decay;
    for (auto& [name, t] : s.module->parameters()) {
      if (!t->defined()) continue;
      s.names.push_back(name);
      s.slots.push_back(t);
      // A fresh fp32 leaf, owned here (never a view of the teacher's or a mapped file's memory).
      at::Tensor m = t->detach().to(teacher.device(), at::kFloat).clone();
      m.set_requires_grad(true);
      s.masters.push_back(m);
      params.push_back(m);
      decay.push_back(m.dim() >= 2);  // matrices decay; gains, biases and gate offsets do not
    }
    if (s.masters.empty()) fail("--mixer", "the {} module of layer {} has no parameters", settings.kind, l);
    s.opt = AdamW(params, decay, adamw);
    out.push_back(std::move(s));
  }
  return out;
}

Captures capture(CausalLM& teacher, const at::Tensor& ids, const std::vector<int64_t>& layers) {
  at::NoGradGuard ng;
  Captures c;
  c.in.resize(layers.size());
  c.out.resize(layers.size());
  std::vector<int64_t> slot(teacher.num_layers(), -1);
  for (size_t i = 0; i < layers.size(); ++i) slot[layers[i]] = static_cast<int64_t>(i);
  auto hook = [&](int64_t l, const at::Tensor& in, const at::Tensor& out) {
    if (slot[l] < 0) return;
    c.in[slot[l]] = in;
    c.out[slot[l]] = out;
  };
  const int64_t B = ids.size(0), T = ids.size(1);
  auto pos = teacher.positions(B, T, nullptr);
  // Layers after the last selected one (and the LM head) do not affect any target: skip them.
  teacher.run_layers(teacher.embed(ids), 0, layers.back() + 1, pos, nullptr, hook);
  return c;
}

std::vector<LayerMetrics> evaluate(CausalLM& teacher, std::vector<Student>& students,
                                   const std::vector<std::vector<int32_t>>& all_seqs, int64_t batch,
                                   at::ScalarType dtype, dist::ProcessGroup* group) {
  at::NoGradGuard ng;
  std::vector<std::vector<int32_t>> seqs;  // this rank's share
  const size_t W = group ? group->world_size() : 1, R = group ? group->rank() : 0;
  for (size_t i = R; i < all_seqs.size(); i += W) seqs.push_back(all_seqs[i]);
  std::vector<int64_t> layers;
  for (auto& s : students) {
    layers.push_back(s.layer);
    s.bind(dtype);
  }
  const size_t L = students.size();
  auto dopt = at::TensorOptions().dtype(at::kDouble).device(teacher.device());
  at::Tensor sse = at::zeros({static_cast<int64_t>(L)}, dopt), st = sse.clone(), st2 = sse.clone();
  double n = 0;
  for (size_t b0 = 0; b0 < seqs.size(); b0 += batch) {
    std::vector<std::vector<int32_t>> chunk(seqs.begin() + b0, seqs.begin() + std::min(seqs.size(), b0 + batch));
    at::Tensor ids = ids_tensor(chunk, teacher.device());
    Captures c = capture(teacher, ids, layers);
    for (size_t i = 0; i < L; ++i) {
      auto pos = teacher.positions(ids.size(0), ids.size(1), nullptr);
      at::Tensor t = c.out[i].to(at::kDouble);
      at::Tensor y = students[i].module->forward(c.in[i], pos, nullptr).to(at::kDouble);
      sse[i] += (y - t).pow(2).sum();
      st[i] += t.sum();
      st2[i] += t.pow(2).sum();
    }
    n += static_cast<double>(c.out[0].numel());
  }
  if (group) {  // one collective: [sse, st, st2, n]
    std::vector<at::Tensor> t{at::cat({sse, st, st2, at::full({1}, n, dopt)})};
    group->all_reduce(t, dist::Reduce::kSum);
    const int64_t l = static_cast<int64_t>(L);
    sse = t[0].narrow(0, 0, l), st = t[0].narrow(0, l, l), st2 = t[0].narrow(0, 2 * l, l);
    n = t[0][3 * l].item<double>();
  }
  sse = sse.cpu(), st = st.cpu(), st2 = st2.cpu();
  std::vector<LayerMetrics> m;
  for (size_t i = 0; i < L; ++i) {
    const double mse = sse[i].item<double>() / n, mean = st[i].item<double>() / n;
    const double var = st2[i].item<double>() / n - mean * mean;
    m.push_back({students[i].layer, mse, var > 0 ? mse / var : std::numeric_limits<double>::infinity()});
  }
  return m;
}

// --------------------------------------------------------------------------------------------
// Checkpoints

namespace {

std::string full_name(const Student& s, size_t i) {
  return linear_prefix(s.layer) + s.names[i];
}

}  // namespace

void save_checkpoint(const fs::path& dir, std::vector<Student>& students, const nlohmann::json& state) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& s : students)
    for (size_t i = 0; i < s.masters.size(); ++i) {
      tensors.emplace_back("master/" + full_name(s, i), s.masters[i].detach());
      tensors.emplace_back("exp_avg/" + full_name(s, i), s.opt.exp_avg()[i]);
      tensors.emplace_back("exp_avg_sq/" + full_name(s, i), s.opt.exp_avg_sq()[i]);
    }
  save_safetensors(dir / "checkpoint.safetensors", tensors, {{"format", "pt"}, {"state", state.dump()}});
  write_file_atomic(dir / "checkpoint.json", state.dump(2) + "\n");
}

nlohmann::json read_checkpoint_state(const fs::path& dir) {
  const fs::path path = dir / "checkpoint.safetensors";
  auto f = SafetensorsFile::open(path);
  auto it = f->metadata().find("state");
  if (it == f->metadata().end()) fail(path.string(), "no \"state\" metadata (not a distill checkpoint)");
  return parse_json(it->second, path.string() + ": \"state\" metadata");
}

nlohmann::json load_checkpoint(const fs::path& dir, std::vector<Student>& students) {
  const fs::path path = dir / "checkpoint.safetensors";
  auto f = SafetensorsFile::open(path);
  nlohmann::json state = read_checkpoint_state(dir);
  const int64_t step = state.at("step").get<int64_t>();
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
  for (auto& s : students) {
    for (size_t i = 0; i < s.masters.size(); ++i) {
      restore("master/" + full_name(s, i), s.masters[i]);
      restore("exp_avg/" + full_name(s, i), s.opt.exp_avg()[i]);
      restore("exp_avg_sq/" + full_name(s, i), s.opt.exp_avg_sq()[i]);
    }
    s.opt.set_steps(step);
  }
  return state;
}

}  // namespace hyb
