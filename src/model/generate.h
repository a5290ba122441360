// model/generate: batched prefill (in chunks) then batched decoding on a ModelCache, greedy or
// sampled (temperature, top-p). Prompts of different lengths are prefilled row by row into
// one cache and decoded together.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace hyb {

class CausalLM;

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  double temperature = 0.0;  // 0 = greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<int64_t> stop_ids;  // a row stops after emitting one of these
  int64_t prefill_chunk = 0;  // 0: CausalLM::default_prefill_chunk (whole prompt on CUDA, 2048 on CPU)
  bool cuda_graph = true;  // replay each decoding step as one CUDA graph (CUDA only)
};

struct GenerateStats {
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t prefill_tokens = 0, decode_tokens = 0;
};

// Called with (row, token) as each token is chosen (for streaming).
using TokenCallback = std::function<void(int64_t row, int64_t token)>;

// Refuses (hyb::Error naming the flag) what generate would refuse before it allocates anything: an
// empty prompt, a token id outside the vocabulary, --max-new-tokens outside 1..the model's context.
// generate calls it; a caller that prints before generating calls it first.
void check_generation(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerateOptions& opt);

// Returns the new tokens of each row (prompt not included; stops after a stop id).
std::vector<std::vector<int64_t>> generate(CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& opt, const TokenCallback& on_token = nullptr,
                                           GenerateStats* stats = nullptr);

}  // namespace hyb
