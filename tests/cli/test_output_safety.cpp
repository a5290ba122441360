// Outputs under faults (issue 16): a lock on each output directory (two runs into one --out: one
// runs, the other is refused naming the holder's pid), unique temporary names removed on failure,
// checked writes (a full disk or a file size limit gives "FILE: write failed: <errno text>" and no
// empty or truncated result), search stopped by a signal and resumed, a torn journal line, and
// damaged checkpoints and logs named in the error. Each runs the built binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../test_util.h"

namespace hyb {
namespace {
namespace fs = std::filesystem;
using test::run_command;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) end = s.size();
    v.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return v;
}

std::string last_line(const std::string& s) {
  const auto v = lines_of(s);
  return v.empty() ? "" : v.back();
}

// Entries below `dir` (recursively) whose name holds ".tmp" or ends in ".lock": leftovers.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp") != std::string::npos || (name.size() > 5 && name.substr(name.size() - 5) == ".lock"))
      v.push_back(e.path().string());
  }
  return v;
}

// Files below `dir` of 0 bytes.
std::vector<std::string> empty_files(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.file_size() == 0) v.push_back(e.path().string());
  return v;
}

std::string distill_args(const fs::path& model, const fs::path& corpus, const fs::path& out, int64_t tokens) {
  return "distill --model " + q(model) + " --data " + q(corpus) + " --mixer gla --out " + q(out) + " --tokens " +
         std::to_string(tokens) + " --seq-len 64 --batch 4 --eval-sequences 2 --threads 1 --no-progress";
}

// Rewrites the "state" metadata of a safetensors checkpoint through `edit` (the data unchanged).
void edit_checkpoint_state(const fs::path& file, const std::function<void(nlohmann::json&)>& edit) {
  const std::string bytes = read_file(file);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  nlohmann::json state = nlohmann::json::parse(header["__metadata__"]["state"].get<std::string>());
  edit(state);
  header["__metadata__"]["state"] = state.dump();
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(h.size()) >> (8 * i)) & 0xff);
  out += h + bytes.substr(8 + n);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << out;
}

// Two distill runs started at the same instant into one --out: one succeeds, the other is
// refused at once naming the directory and the winner's pid (they used to both say "wrote", one
// output lost and log.jsonl interleaved). A lock file left by a killed run (a stale pid) blocks
// nothing: the kernel released its lock.
TEST(OutputSafety, TwoDistillsIntoOneOutOneIsRefused) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = test::temp_dir("output_lock_distill");
  const fs::path out = dir / "d";
  std::ofstream(dir / ".d.lock") << "999999\n";  // left by a run that was killed
  const std::string args = distill_args(model, corpus, out, 64 * 4 * 24);
  int rc = 0;
  auto at = [&](const char* name) { return q(dir / name); };
  run_command("(exec '" + bin + "' " + args + " >" + at("a.txt") + " 2>&1) & pa=$!; (exec '" + bin + "' " + args +
                  " >" + at("b.txt") + " 2>&1) & pb=$!; wait $pa; echo $? >" + at("a.rc") + "; wait $pb; echo $? >" +
                  at("b.rc") + "; echo $pa $pb >" + at("pids"),
              rc);
  const std::string a = read_file(dir / "a.txt"), b = read_file(dir / "b.txt");
  const int rca = std::stoi(read_file(dir / "a.rc")), rcb = std::stoi(read_file(dir / "b.rc"));
  std::string pa, pb;
  std::ifstream(dir / "pids") >> pa >> pb;
  ASSERT_EQ(rca + rcb, 1) << "a: " << a << "\nb: " << b;  // one 0, one 1
  const std::string& refused = rca ? a : b;
  const std::string& winner_pid = rca ? pb : pa;
  EXPECT_EQ(refused, "error: --out: '" + out.string() + "' is being written by another run (pid " + winner_pid +
                         "): wait for it to end, or choose another directory\n");
  // The winner's outputs are whole; the lock file is gone, no temporary is left.
  EXPECT_TRUE(fs::exists(out / "linear.safetensors"));
  for (const auto& line : lines_of(read_file(out / "log.jsonl")))
    EXPECT_NO_THROW(nlohmann::json::parse(line)) << line;
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
}

// write_file_atomic's temporary is unique to each call: writers of one file at once (threads
// here, processes in the field) never rename each other's temporaries, and none is left behind.
// With the fixed PATH.tmp they failed on the rename ("No such file or directory").
TEST(OutputSafety, ConcurrentAtomicWritesUseTheirOwnTemporaries) {
  const auto dir = test::temp_dir("atomic_unique");
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        try {
          write_file_atomic(dir / "f.json", std::string(4096, char('a' + t)));
        } catch (const Error&) {
          ++failures[t];
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  const std::string got = read_file(dir / "f.json");
  ASSERT_EQ(got.size(), 4096u);
  EXPECT_EQ(std::count(got.begin(), got.end(), got[0]), 4096) << "a file mixed from two writers";
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
}

// A full disk: eval --out on /dev/full (a file that always reports ENOSPC) says so in one line;
// under a file size limit (prlimit --fsize) --samples and --out fail with EFBIG's text and leave no
// results file (before: a 0-byte one) and no temporary; an existing results file is kept whole
// (replaced only when asked: --overwrite).
TEST(OutputSafety, EvalOnAFullDiskLeavesNoResultFile) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = test::temp_dir("eval_full_disk");
  std::ofstream(dir / "task.jsonl") << R"({"context": "Once upon a time", "choices": [" there", " cat"], "gold": 0})"
                                    << "\n" << R"({"context": "The dog", "choices": [" ran", " sky"], "gold": 0})" << "\n";
  const std::string eval = "'" + bin + "' eval --model " + q(model) + " --data " + q(dir / "task.jsonl") +
                           " --device cpu --threads 1 --no-progress";
  int rc = 0;
  std::string out = run_command(eval + " --out /dev/full --overwrite 2>&1 >/dev/null", rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "error: /dev/full: write failed: No space left on device\n");

  out = run_command("prlimit --fsize=300 " + eval + " --samples " + q(dir / "samples.jsonl") + " 2>&1 >/dev/null", rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "error: " + (dir / "samples.jsonl").string() + ": write failed: File too large\n");
  EXPECT_FALSE(fs::exists(dir / "samples.jsonl"));

  std::ofstream(dir / "results.json") << "{\"earlier\": true}\n";
  out = run_command("prlimit --fsize=300 " + eval + " --out " + q(dir / "results.json") + " --overwrite 2>&1 >/dev/null", rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(out, "error: " + (dir / "results.json").string() + ": write failed: File too large\n");
  EXPECT_EQ(read_file(dir / "results.json"), "{\"earlier\": true}\n");
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
  // Without the limit both are written.
  out = run_command(eval + " --out " + q(dir / "results.json") + " --samples " + q(dir / "samples.jsonl") + " --overwrite 2>&1", rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(read_file(dir / "results.json").find("\"results\""), std::string::npos);
  EXPECT_EQ(lines_of(read_file(dir / "samples.jsonl")).size(), 2u);
}

// A results file already there is refused before any work, naming the flag, unless --overwrite;
// an input of the command is refused even with --overwrite (perplexity --out on its own --data
// used to replace the corpus with the results), and so are a directory and one file given to two
// outputs of a run.
TEST(OutputSafety, ResultFilesAreReplacedOnlyWhenAsked) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = test::temp_dir("output_files");
  std::ofstream(dir / "task.jsonl") << R"({"context": "Once upon a time", "choices": [" there", " cat"], "gold": 0})" << "\n";
  std::ofstream(dir / "corpus.txt") << "Once upon a time there was a little cat. The cat ran to the park.\n";
  std::ofstream(dir / "earlier.json") << "{}\n";
  const std::string exe = "'" + bin + "' ";
  const std::string eval = exe + "eval --model " + q(model) + " --data " + q(dir / "task.jsonl") + " --device cpu --threads 1 --no-progress";
  int rc = 0;
  for (const char* flag : {"--out", "--samples"}) {
    const std::string out = run_command(eval + " " + flag + " " + q(dir / "earlier.json") + " 2>&1", rc);
    EXPECT_EQ(rc, 1);
    EXPECT_EQ(out, "error: " + std::string(flag) + ": '" + (dir / "earlier.json").string() +
                       "' exists: pass --overwrite to replace it, or choose another file\n");
  }
  EXPECT_EQ(read_file(dir / "earlier.json"), "{}\n");
  std::string out = run_command(eval + " --out " + q(dir / "earlier.json") + " --overwrite 2>&1", rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(read_file(dir / "earlier.json").find("\"results\""), std::string::npos);
  out = run_command(eval + " --out " + q(dir) + " 2>&1", rc);
  EXPECT_EQ(out, "error: --out: '" + dir.string() + "' is a directory: give a file name\n");
  // Two outputs of one run on one file: the second used to replace the first, exit 0.
  out = run_command(eval + " --out " + q(dir / "r.json") + " --samples " + q(dir / "r.json") + " 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "error: --samples: '" + (dir / "r.json").string() + "' is also --out: give each output its own file\n");
  out = run_command(exe + "bench --model " + q(model) + " --context 64 --device cpu --out " + q(dir / "b.svg") + " 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "error: --plot: '" + (dir / "b.svg").string() + "' is also --out: give each output its own file\n");
  EXPECT_FALSE(fs::exists(dir / "r.json"));
  EXPECT_FALSE(fs::exists(dir / "b.svg"));

  const std::string ppl = exe + "perplexity --model " + q(model) + " --data " + q(dir / "corpus.txt") +
                          " --seq-len 8 --sequences 1 --device cpu --no-progress --overwrite --out ";
  out = run_command(ppl + q(dir / "corpus.txt") + " 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "error: --out: '" + (dir / "corpus.txt").string() + "' is an input of this command: choose another file\n");
  EXPECT_EQ(read_file(dir / "corpus.txt"), "Once upon a time there was a little cat. The cat ran to the park.\n");

  const std::string logits = exe + "logits --model " + q(model) + " --ids 1,2,3 --device cpu --out " + q(dir / "earlier.json");
  out = run_command(logits + " 2>&1", rc);
  EXPECT_EQ(out, "error: --out: '" + (dir / "earlier.json").string() +
                     "' exists: pass --overwrite to replace it, or choose another file\n");
  out = run_command(logits + " --overwrite 2>&1", rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
}

// distill under a file size limit: the checkpoint (or the modules file) cannot be written; the run
// stops with one line naming the file, and leaves neither a temporary nor an empty file.
TEST(OutputSafety, DistillOnAFullDiskStopsNamingTheFile) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = test::temp_dir("distill_full_disk");
  int rc = 0;
  const std::string out = run_command(
      "prlimit --fsize=20000 '" + bin + "' " + distill_args(model, corpus, dir / "d", 64 * 4 * 4) + " 2>&1", rc);
  EXPECT_EQ(rc, 1) << out;
  const std::string line = last_line(out);
  EXPECT_EQ(line.rfind("error: " + (dir / "d").string() + "/", 0), 0u) << out;
  EXPECT_NE(line.find(".safetensors: write failed: File too large"), std::string::npos) << out;
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
  EXPECT_EQ(empty_files(dir), std::vector<std::string>{});
}

// A damaged checkpoint (a key missing, or of the wrong type) or log is named in one line with
// the key, not with the JSON library's "[json.exception.out_of_range.403] key 'step' not found".
TEST(OutputSafety, DamagedCheckpointAndLogNameTheFileAndKey) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = test::temp_dir("damaged_checkpoint");
  const std::string args = distill_args(model, corpus, dir / "d", 64 * 4 * 2);
  int rc = 0;
  std::string out = run_command("'" + bin + "' " + args + " 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  const fs::path ckpt = dir / "d" / "checkpoint.safetensors";
  const std::string good = read_file(ckpt);
  auto expect_error = [&](const std::string& want) {
    const std::string got = run_command("'" + bin + "' " + args + " --resume 2>&1", rc);
    EXPECT_EQ(rc, 1) << got;
    EXPECT_EQ(last_line(got), want) << got;
    EXPECT_EQ(got.find("json.exception"), std::string::npos) << got;
  };
  edit_checkpoint_state(ckpt, [](nlohmann::json& s) { s.erase("step"); });
  expect_error("error: " + ckpt.string() + ": missing key 'step'");
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << good;
  edit_checkpoint_state(ckpt, [](nlohmann::json& s) { s["train_sequences"] = "many"; });
  expect_error("error: " + ckpt.string() + ": key 'train_sequences' is a string, not an integer");
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << good;
  edit_checkpoint_state(ckpt, [](nlohmann::json& s) { s["start_metrics"]["0"].erase("rel_mse"); });
  expect_error("error: " + ckpt.string() + ": missing key 'rel_mse'");
  std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << good;
  // The log's held-out metrics replaced by a number: the plots, drawn from the log, name its line.
  const fs::path log = dir / "d" / "log.jsonl";
  auto lines = lines_of(read_file(log));
  ASSERT_FALSE(lines.empty());
  auto first = nlohmann::json::parse(lines[0]);
  first["heldout"] = 5;
  lines[0] = first.dump();
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  std::ofstream(log, std::ios::trunc) << text;
  expect_error("error: " + log.string() + ":1: key 'heldout' is an integer, not an object");
}

// search: a journal line cut off by a kill mid-append is dropped with a warning naming the file
// and line, and the file is cut back before appending, so that the resumed run's records start
// lines of their own (before, the next record was appended onto the torn line and every later
// resume replayed only the scores before it). SIGINT stops the search between two candidates with
// exit 130 and says how to resume; the resume replays every kept score and publishes M_best and
// M_opt before the summary that names them.
TEST(OutputSafety, SearchSignalTornJournalAndResume) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  HYB_REQUIRE_SHARED(piqa, "data/tasks/piqa/validation.jsonl");
  const auto dir = test::temp_dir("search_signal");
  int rc = 0;
  std::string out = run_command("'" + bin + "' " + distill_args(model, corpus, dir / "d", 64 * 4 * 2) + " 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  const fs::path run = dir / "run", journal = run / "candidates.jsonl";
  const std::string search = "'" + bin + "' search --model " + q(model) + " --linear " +
                             q(dir / "d" / "linear.safetensors") + " --task piqa --data " + q(piqa) +
                             " --limit 20 --max-drop 1 --device cpu --threads 1 --out " + q(run);
  // ^C once two scores are journalled.
  out = run_command("(exec " + search + " >" + q(dir / "s.txt") + " 2>&1) & p=$!; for i in $(seq 6000); do "
                    "[ -f " + q(journal) + " ] && [ $(wc -l <" + q(journal) + ") -ge 2 ] && break; sleep 0.01; done; "
                    "kill -INT $p; wait $p; echo $?", rc);
  EXPECT_EQ(out, "130\n") << read_file(dir / "s.txt");
  const std::string said = read_file(dir / "s.txt");
  const auto kept = lines_of(read_file(journal));
  ASSERT_GE(kept.size(), 2u) << said;
  EXPECT_LT(kept.size(), 16u) << "the search ended before the signal: make it slower";  // 1 + 5 + 4 + 3 + 2 + 1
  EXPECT_EQ(last_line(said), "search interrupted by signal 2: " + std::to_string(kept.size()) + " scores kept in " +
                                 journal.string() + "; run again with --resume to continue")
      << said;
  EXPECT_FALSE(fs::exists(run / "summary.json"));
  for (const auto& l : kept) EXPECT_NO_THROW(nlohmann::json::parse(l)) << l;

  // A torn last line, as a kill in the middle of an append leaves it.
  std::ofstream(journal, std::ios::app) << R"({"layers": [0, 1], "sco)";
  out = run_command(search + " --resume 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("warning: " + journal.string() + ":" + std::to_string(kept.size() + 1) +
                     ": incomplete last line (a run stopped while writing it) dropped; its candidate is scored again\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(", " + std::to_string(kept.size()) + " scores replayed from the journal"), std::string::npos) << out;
  const auto all = lines_of(read_file(journal));
  EXPECT_EQ(all.size(), 16u);
  for (const auto& l : all) EXPECT_NO_THROW(nlohmann::json::parse(l)) << l;
  const auto summary = nlohmann::json::parse(read_file(run / "summary.json"));
  for (const char* name : {"M_best", "M_opt"})
    EXPECT_TRUE(fs::exists(fs::path(summary[name]["dir"].get<std::string>()) / "config.json")) << name;
  // A resume of the finished run replays all 16 and re-publishes both hybrids in place.
  out = run_command(search + " --resume 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(", 16 scores replayed from the journal"), std::string::npos) << out;
  EXPECT_EQ(lines_of(read_file(journal)).size(), 16u);
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
}

// random-model's --out follows the rule of every output directory: a model already there (or the
// config's own directory) is refused and left byte for byte as it was; it used to be overwritten
// in place by the new random weights.
TEST(OutputSafety, RandomModelNeverOverwritesAModel) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = test::temp_dir("output_random_model");
  fs::copy(model / "config.json", dir / "config.json");
  const std::string make = "'" + bin + "' random-model --config " + q(dir / "config.json") + " --dtype float32 --out ";
  int rc = 0;
  std::string out = run_command(make + q(dir / "m") + " 2>&1", rc);
  ASSERT_EQ(rc, 0) << out;
  const std::string weights = read_file(dir / "m" / "model.safetensors");
  out = run_command(make + q(dir / "m") + " --seed 7 2>&1", rc);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(out, "error: --out: '" + (dir / "m").string() + "' is not empty: choose a new directory (nothing is overwritten)\n");
  EXPECT_TRUE(read_file(dir / "m" / "model.safetensors") == weights) << "the model's weights changed";
  out = run_command(make + q(dir) + " 2>&1", rc);  // the directory holding the config
  EXPECT_NE(rc, 0);
  EXPECT_EQ(out, "error: --out: '" + dir.string() + "' contains an input of this command (" + (dir / "config.json").string() +
                     "): choose a new directory\n");
  EXPECT_EQ(leftovers(dir), std::vector<std::string>{});
}

}  // namespace
}  // namespace hyb
