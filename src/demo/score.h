// demo/score: multiple-choice accuracy on a world task, by the harness's rule: the prediction is
// the choice with the highest summed log-likelihood of its continuation given the context. The
// world's choices are one word (one token) each, so the sum has one term, log p(choice | context),
// read from the model's next-token distribution at the item's last context position.
//
// A task's questions about one episode have contexts that are prefixes of one row, so a causal
// model answers all of them in one forward pass over the row (the logits at position t depend on
// tokens <= t only). Seam: eval/scorer (score_requests over TokenRequests) is the general engine
// for any task file; this one is the demo's short cut for its token-level items.
#pragma once
#include <cstdint>
#include <vector>

namespace hyb {
class CausalLM;
}

namespace hyb::demo {

struct TaskSet;

// Index of the chosen choice for every item of the task.
std::vector<int64_t> predict(CausalLM& model, const TaskSet& task, int64_t rows_per_batch = 64);
// Fraction of items whose chosen choice is the gold one.
double accuracy(CausalLM& model, const TaskSet& task, int64_t rows_per_batch = 64);

}  // namespace hyb::demo
