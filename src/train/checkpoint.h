// train/checkpoint: checkpoint.safetensors in a run's output directory. Tensors "master/",
// "exp_avg/", "exp_avg_sq/" + each parameter's full name, and the run's `state` (step, data
// position, settings fingerprint, ...) as the "state" metadata, so that the one atomically written
// file is the whole truth; checkpoint.json is a readable copy of `state`.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "train/params.h"

namespace hyb {

// The parameter groups of a run, each with the prefix that makes its names unique in the file.
struct CheckpointPart {
  std::string prefix;
  TrainableParams* params;
};

// DIR/checkpoint.safetensors.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir);

void save_checkpoint(const std::filesystem::path& dir, const std::vector<CheckpointPart>& parts,
                     const nlohmann::json& state);
// The state; hyb::Error naming the file when it lacks "step" (an integer), "seconds" (a number)
// or "fingerprint" (an object), or holds one of another type: a damaged checkpoint. A command's
// own keys are read with util/json's json_int & co., naming checkpoint_path(dir).
nlohmann::json read_checkpoint_state(const std::filesystem::path& dir);
// Restores masters, moments and AdamW step counts (state["step"]) in place; returns the state.
nlohmann::json load_checkpoint(const std::filesystem::path& dir, const std::vector<CheckpointPart>& parts);

// --resume: every key of `now` must hold the same value in the checkpoint's state["fingerprint"]
// (hyb::Error naming the first setting that differs).
void require_same_settings(const nlohmann::json& now, const nlohmann::json& state);

}  // namespace hyb
