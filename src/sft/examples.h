// sft/examples: supervised fine-tuning data, from documents to fixed-length training rows.
//
//   task document -> the harness's request for its gold answer: (prompt, target delimiter + answer)
//   {"prompt", "completion"} line -> (prompt, completion)
//   -> tokens split as eval/requests does (the prompt with the tokenizer's BOS, trailing spaces
//      moved to the answer) -> rows of seq_len tokens, packed (several documents a row) or padded
//      (one a row); labels[t] = ids[t+1], and answer[t] marks the labels that are answer tokens:
//      the loss counts those only.
// A document longer than seq_len is skipped and counted (packing never splits one). Pure C++.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/requests.h"
#include "eval/task.h"

namespace hyb::sft {

struct Example {
  std::vector<int32_t> prompt, answer;  // answer: at least one token
  std::string where;                    // "file:line" (errors, reports)
};

// Every document of `task`'s split in `tasks_dir` (or task.data_file): the request of its gold
// choice (multiple choice), of its gold context (multiple_context) or its only one (loglikelihood).
std::vector<Example> task_examples(const eval::TaskSpec& task, const std::filesystem::path& tasks_dir,
                                   const std::string& split, const eval::TextEncoder& enc);
// A JSONL file of {"prompt": str, "completion": str} objects. Missing or non-string fields and
// empty completions are hyb::Errors naming the file and line.
std::vector<Example> jsonl_examples(const std::filesystem::path& file, const eval::TextEncoder& enc);

struct Row {
  std::vector<int32_t> ids, labels;  // seq_len each (pad after the last document)
  std::vector<uint8_t> answer;       // 1 where labels[t] is an answer token
};

struct Rows {
  std::vector<Row> rows;
  int64_t examples = 0;           // documents in the rows
  int64_t skipped_too_long = 0;   // documents longer than seq_len, left out
  int64_t answer_tokens = 0;      // over all rows (one epoch)
  std::vector<std::string> skipped_where;  // the first few skipped documents
};

// `pack`: documents follow each other in a row while they fit (each starts with its own prompt);
// else one document a row. `pad` fills the rest of a row (never an answer position).
Rows make_rows(const std::vector<Example>& examples, int64_t seq_len, bool pack, int32_t pad);

// Row indices of every step: the rows in a fresh order each epoch (seeded by seed + epoch), the
// global batch of step s (1-based) being entries (s-1)B .. sB-1 of the epochs laid end to end.
// A pure function of its arguments, so a resumed run sees what an uninterrupted one would.
std::vector<int64_t> batch_rows(int64_t step, int64_t batch, int64_t num_rows, uint64_t seed);

}  // namespace hyb::sft
