// demo/decode_speed: decoding throughput of a full or hybrid model at a long context, the
// quantity the method buys. Each decoding step costs a full-attention layer O(context) (it reads
// its whole KV cache) and a linear layer O(1) (a fixed-size state), so the gap grows with the
// context.
//
// The cache is filled synthetically: every row's KV cache holds `context` random keys and values
// and the recurrent states their zero start, then `steps` tokens are decoded greedily on top.
// A real prefill gives the same per-step work (the same cache lengths and shapes) but costs the
// teacher O(context^2) first, minutes at 16K tokens on a laptop core, and the demo's models were
// trained on 64-token rows, so what they would say at 16K is not the point: only the time is.
// `hybridize bench` measures prefill and decode of real prompts.
#pragma once
#include <cstdint>

namespace hyb {
class CausalLM;
}

namespace hyb::demo {

struct DecodeSpeed {
  int64_t batch = 0, context = 0, steps = 0;
  double seconds = 0;         // fastest of the repeats, for `steps` steps
  double tokens_per_s = 0;    // batch * steps / seconds
  int64_t cache_bytes = 0;    // KV caches + recurrent states at context + steps
};

// The fastest of `repeats` timed runs (the machine may be shared: the minimum is the estimate
// least disturbed by other work), after one untimed warm-up step.
DecodeSpeed time_decode(CausalLM& model, int64_t batch, int64_t context, int64_t steps, int repeats);

}  // namespace hyb::demo
