// fuzz_checkpoint: train/checkpoint's readers on a checkpoint.safetensors of the fuzzer's bytes,
// as `distill --resume` and `sft --resume` call them: read_checkpoint_state (the "state" metadata
// as JSON), require_same_settings against a run's settings, then load_checkpoint (the step count
// and the tensors of the run's parameter groups, here none).
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_common.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hyb::fuzz::write_input("checkpoint.safetensors", data, size);
  const auto& dir = hyb::fuzz::scratch_dir();
  hyb::fuzz::accept_or_refuse([&] {
    const nlohmann::json state = hyb::read_checkpoint_state(dir);
    hyb::require_same_settings(nlohmann::json{{"mixer", "gla"}, {"seq_len", 256}, {"lr", 0.001}}, state);
    (void)hyb::load_checkpoint(dir, {});
  });
  return 0;
}
