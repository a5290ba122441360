#include "sft/examples.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>

#include "eval/evaluate.h"
#include "util/error.h"

namespace hyb::sft {
namespace fs = std::filesystem;

std::vector<Example> task_examples(const eval::TaskSpec& task, const fs::path& tasks_dir, const std::string& split,
                                   const eval::TextEncoder& enc) {
  eval::EvalOptions opt;
  opt.tasks_dir = tasks_dir;
  opt.split = split;
  const eval::TaskResult r = eval::prepare_task(task, enc, opt, /*max_len=*/0);
  std::vector<Example> out;
  for (size_t i = 0; i < r.instances.size(); ++i) {
    const int64_t gold = r.instances[i].gold < 0 ? 0 : r.instances[i].gold;
    const eval::TokenRequest& t = r.tokens[i].at(static_cast<size_t>(gold));
    out.push_back({t.context, t.continuation, r.file.string() + ": document " + std::to_string(i)});
  }
  if (out.empty()) fail(r.file.string(), "no documents in split '{}'", r.split);
  return out;
}

std::vector<Example> jsonl_examples(const fs::path& file, const eval::TextEncoder& enc) {
  std::ifstream in(file);
  if (!in) fail(file.string(), "cannot open");
  std::vector<Example> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file.string() + ":" + std::to_string(n);
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) fail(where, "not a JSON object");
    for (const char* f : {"prompt", "completion"})
      if (!j.contains(f) || !j[f].is_string())
        fail(where, "needs a string field \"{}\" (SFT data: {{\"prompt\": ..., \"completion\": ...}})", f);
    const std::string prompt = j["prompt"], completion = j["completion"];
    if (completion.find_first_not_of(" \t\r\n") == std::string::npos)
      fail(where, "empty \"completion\": nothing to learn from this line");
    const eval::TokenRequest t = eval::encode_request({prompt, completion}, enc, where);
    out.push_back({t.context, t.continuation, where});
  }
  if (out.empty()) fail(file.string(), "no documents (expected one JSON object per line)");
  return out;
}

Rows make_rows(const std::vector<Example>& examples, int64_t seq_len, bool pack, int32_t pad) {
  Rows r;
  std::vector<int32_t> ids;
  std::vector<uint8_t> is_answer;  // per token of `ids`
  auto flush = [&] {
    if (ids.empty()) return;
    Row row;
    row.ids.assign(static_cast<size_t>(seq_len), pad);
    row.labels.assign(static_cast<size_t>(seq_len), pad);
    row.answer.assign(static_cast<size_t>(seq_len), 0);
    std::copy(ids.begin(), ids.end(), row.ids.begin());
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      row.labels[t] = ids[t + 1];
      row.answer[t] = is_answer[t + 1];
      r.answer_tokens += is_answer[t + 1];
    }
    r.rows.push_back(std::move(row));
    ids.clear();
    is_answer.clear();
  };
  for (const auto& e : examples) {
    const size_t n = e.prompt.size() + e.answer.size();
    if (static_cast<int64_t>(n) > seq_len) {
      ++r.skipped_too_long;
      if (r.skipped_where.size() < 5) r.skipped_where.push_back(e.where + " (" + std::to_string(n) + " tokens)");
      continue;
    }
    if (!pack || static_cast<int64_t>(ids.size() + n) > seq_len) flush();
    ids.insert(ids.end(), e.prompt.begin(), e.prompt.end());
    is_answer.insert(is_answer.end(), e.prompt.size(), 0);
    ids.insert(ids.end(), e.answer.begin(), e.answer.end());
    is_answer.insert(is_answer.end(), e.answer.size(), 1);
    ++r.examples;
  }
  flush();
  return r;
}

std::vector<int64_t> batch_rows(int64_t step, int64_t batch, int64_t num_rows, uint64_t seed) {
  std::vector<int64_t> out;
  int64_t cached_epoch = -1;
  std::vector<int64_t> order;
  for (int64_t k = (step - 1) * batch; k < step * batch; ++k) {
    const int64_t epoch = k / num_rows;
    if (epoch != cached_epoch) {  // Fisher-Yates with our own draws: the same order on every platform
      order.resize(static_cast<size_t>(num_rows));
      for (int64_t i = 0; i < num_rows; ++i) order[i] = i;
      std::mt19937_64 gen(seed + static_cast<uint64_t>(epoch));
      for (int64_t i = num_rows - 1; i > 0; --i) std::swap(order[i], order[gen() % static_cast<uint64_t>(i + 1)]);
      cached_epoch = epoch;
    }
    out.push_back(order[static_cast<size_t>(k % num_rows)]);
  }
  return out;
}

}  // namespace hyb::sft
