// eval/docs: reading a task's documents from disk, strictly: every malformed line is a
// hyb::Error naming the file and line. Formats:
//   *.jsonl                          one JSON object per line (blank lines skipped)
//   *_llamacpp_format.txt(.bz2)      llama.cpp's HellaSwag text: 6 lines per item ("label: ctx",
//                                    gold index, 4 endings), turned into the Hugging Face fields
// A ".bz2" suffix is decompressed with libbz2. Pure C++.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "eval/template.h"

namespace hyb::eval {

// The whole file as text (decompressed when it ends in .bz2).
std::string read_text_file(const std::filesystem::path& file);

// Documents of one file, in file order; `limit` > 0 stops after that many.
std::vector<Doc> read_docs(const std::filesystem::path& file, int64_t limit = 0);

// llama.cpp's HellaSwag item -> {activity_label, ctx_a, ctx_b, endings, label}. The text format
// keeps only ctx = ctx_a + " " + ctx_b; ctx_b is recovered as the part after the last ". " when
// it starts in lower case (ActivityNet items, where the harness capitalises it), else "".
Doc hellaswag_doc(const std::string& ctx_line, const std::string& label, const std::vector<std::string>& endings,
                  const std::string& where);

}  // namespace hyb::eval
