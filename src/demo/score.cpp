#include "demo/score.h"

#include "demo/world.h"
#include "model/model.h"
#include "util/error.h"

namespace hyb::demo {

std::vector<int64_t> predict(CausalLM& model, const TaskSet& task, int64_t rows_per_batch) {
  torch::NoGradGuard no_grad;
  const int64_t R = static_cast<int64_t>(task.rows.size());
  // Items grouped by row, so each batch of rows answers its own items.
  std::vector<std::vector<int64_t>> by_row(R);
  for (size_t i = 0; i < task.items.size(); ++i) by_row.at(task.items[i].row).push_back(static_cast<int64_t>(i));

  std::vector<int64_t> chosen(task.items.size(), -1);
  for (int64_t r0 = 0; r0 < R; r0 += rows_per_batch) {
    const int64_t B = std::min(rows_per_batch, R - r0);
    // Right-pad rows of unequal length with BOS: padding after a row's last real token never
    // changes the logits at the real positions of a causal model.
    int64_t T = 0;
    for (int64_t b = 0; b < B; ++b) T = std::max<int64_t>(T, task.rows[r0 + b].size());
    std::vector<int64_t> flat(B * T, 0);
    for (int64_t b = 0; b < B; ++b)
      std::copy(task.rows[r0 + b].begin(), task.rows[r0 + b].end(), flat.begin() + b * T);
    auto ids = at::tensor(flat, at::kLong).view({B, T});
    auto logp = at::log_softmax(model.forward(ids), -1).to(at::kCPU);  // [B,T,V]
    auto lp = logp.accessor<float, 3>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i : by_row[r0 + b]) {
        const Item& it = task.items[i];
        TORCH_CHECK(it.pos + 1 < static_cast<int64_t>(task.rows[r0 + b].size()), "item past its row");
        int64_t best = 0;
        for (size_t c = 1; c < it.choices.size(); ++c)  // strictly greater wins: ties go to the first
          if (lp[b][it.pos][it.choices[c]] > lp[b][it.pos][it.choices[best]]) best = static_cast<int64_t>(c);
        chosen[i] = best;
      }
    }
  }
  return chosen;
}

double accuracy(CausalLM& model, const TaskSet& task, int64_t rows_per_batch) {
  if (task.items.empty()) fail("demo task " + task.name, "has no questions");
  auto chosen = predict(model, task, rows_per_batch);
  int64_t right = 0;
  for (size_t i = 0; i < chosen.size(); ++i) right += chosen[i] == task.items[i].gold;
  return static_cast<double>(right) / static_cast<double>(chosen.size());
}

}  // namespace hyb::demo
