// Hostile input the CLI must refuse in one line naming the file (or flag) and the problem, rather than
// crash, hang or answer wrongly (issue 16). Each case reproduces what the adversarial campaign found.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../test_util.h"

using hyb::test::run_command;

namespace {

// Runs `hybridize <args>` and checks that it exits 1 with one line, "error: " + a line holding
// every one of `parts`.
void expect_refused(const std::string& args, const std::vector<std::string>& parts) {
  const std::string bin = hyb::test::hybridize_binary().string();
  ASSERT_FALSE(bin.empty()) << "the hybridize executable was not found";
  int rc = 0;
  const std::string out = run_command("timeout 60 '" + bin + "' " + args + " 2>&1", rc);
  EXPECT_EQ(rc, 1) << args << "\n" << out;
  EXPECT_EQ(out.rfind("error: ", 0), 0u) << args << "\n" << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << args << "\n" << out;
  for (const auto& p : parts) EXPECT_NE(out.find(p), std::string::npos) << "missing '" << p << "': " << args << "\n" << out;
}

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// 100000 nested arrays: nlohmann parses them without recursion, but copying or printing the tree
// recurses once per level, and config.json's copy crashed the process (a segfault, exit 139).
std::string deeply_nested(const std::string& head) {
  return head + std::string(100000, '[') + std::string(100000, ']') + "}";
}

TEST(HostileInput, DeeplyNestedJsonIsRefusedBeforeParsing) {
  const auto dir = hyb::test::temp_dir("hostile_deep_json");
  std::ofstream(dir / "config.json") << deeply_nested("{\"model_type\": \"llama\", \"x\": ");
  expect_refused("info --model " + quoted(dir), {(dir / "config.json").string() + ": ", "nested deeper than 512 levels"});

  // tokenizer.json goes through its own streaming reader: the same limit applies.
  const auto tok = hyb::test::temp_dir("hostile_deep_tokenizer");
  std::ofstream(tok / "tokenizer.json") << deeply_nested("{\"model\": {\"type\": \"BPE\"}, \"x\": ");
  expect_refused("tokenize --model " + quoted(tok) + " --text hi",
                 {(tok / "tokenizer.json").string() + ": ", "nested deeper than 512 levels"});

  // Arrays inside strings are text, not nesting: a deep-looking string value is read normally
  // (the file is then refused for what it lacks, not for its depth).
  std::ofstream(dir / "config.json") << "{\"model_type\": \"llama\", \"x\": \"" + std::string(1000, '[') + "\\\"\"}";
  expect_refused("info --model " + quoted(dir), {(dir / "config.json").string() + ": ", "hidden_size"});
}

// A FIFO where a file is expected blocks its reader forever (model.safetensors hung the loader):
// every input is refused unless it is a regular file. `timeout 60` turns a hang into a failure.
TEST(HostileInput, NonRegularFilesAreRefusedNotHungOn) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = hyb::test::temp_dir("hostile_fifo");
  std::filesystem::create_directories(dir / "config");
  ASSERT_EQ(::mkfifo((dir / "config" / "config.json").c_str(), 0600), 0);
  expect_refused("info --model " + quoted(dir / "config"),
                 {(dir / "config" / "config.json").string() + ": not a regular file (a FIFO)"});

  std::filesystem::create_directories(dir / "weights");
  std::filesystem::copy_file(model / "config.json", dir / "weights" / "config.json");
  ASSERT_EQ(::mkfifo((dir / "weights" / "model.safetensors").c_str(), 0600), 0);
  expect_refused("info --model " + quoted(dir / "weights"),
                 {(dir / "weights" / "model.safetensors").string() + ": not a regular file (a FIFO)"});

  std::filesystem::create_directories(dir / "tok");
  ASSERT_EQ(::mkfifo((dir / "tok" / "tokenizer.json").c_str(), 0600), 0);
  expect_refused("tokenize --model " + quoted(dir / "tok") + " --text hi",
                 {(dir / "tok" / "tokenizer.json").string() + ": not a regular file (a FIFO)"});

  // A task file and a --linear modules file (read before the model is loaded, or after).
  ASSERT_EQ(::mkfifo((dir / "task.jsonl").c_str(), 0600), 0);
  expect_refused("eval --model " + quoted(model) + " --task mine --data " + quoted(dir / "task.jsonl"),
                 {(dir / "task.jsonl").string() + ": not a regular file (a FIFO)"});
  ASSERT_EQ(::mkfifo((dir / "linear.safetensors").c_str(), 0600), 0);
  std::ofstream(dir / "text.txt") << "Once upon a time there was a cat.\n";
  expect_refused("perplexity --model " + quoted(model) + " --linear " + quoted(dir / "linear.safetensors") +
                     " --data " + quoted(dir / "text.txt"),
                 {(dir / "linear.safetensors").string() + ": not a regular file (a FIFO)"});
}

// Flags that reached LibTorch (a trace, or its "not implemented for 'Half'") or were ignored.
TEST(HostileInput, FlagsThatReachedLibTorchOrWereIgnored) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const std::string m = " --model " + quoted(model);
  // The cache is sized prompt + new tokens: 2^63 - 1 overflowed into a LibTorch trace.
  expect_refused("generate" + m + " --prompt-ids 1 --print-ids --max-new-tokens 9223372036854775807",
                 {"error: --max-new-tokens: must be from 1 to the model's context of 512 tokens, got 9223372036854775807"});
  // The same with a text prompt: the refusal comes alone (the prompt was echoed before it: "hierror: ...").
  expect_refused("generate" + m + " --prompt hi --max-new-tokens 100000",
                 {"error: --max-new-tokens: must be from 1 to the model's context of 512 tokens, got 100000"});
  // float16, which the help offers, has no CPU matrix product in LibTorch.
  for (const std::string& cmd : {"generate" + m + " --prompt hi", "bench" + m})
    expect_refused(cmd + " --device cpu --dtype float16",
                   {"error: --dtype: float16 runs on CUDA only; on the CPU use float32 or bfloat16"});
  // CLI11 read `--layers ''` as layer 0 and export wrote a hybrid of it; a negative index is refused too.
  const auto dir = hyb::test::temp_dir("hostile_flags");
  for (const auto& [layers, message] : {std::pair<std::string, std::string>{"''", "--layers: empty"},
                                        {"-1", "--layers: '-1' is not a layer number"},
                                        {"3,,4", "--layers: '' is not a layer number"},
                                        {"2-1", "--layers: empty range '2-1'"},
                                        {"0-5", "--layers: layer 5 does not exist (the model has layers 0-4)"}}) {
    int rc = 0;
    const std::string out = run_command("'" + hyb::test::hybridize_binary().string() + "' export" + m + " --linear " +
                                            quoted(dir / "linear.safetensors") + " --layers " + layers + " --out " +
                                            quoted(dir / "hybrid") + " 2>&1", rc);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find(message), std::string::npos) << layers << "\n" << out;
    EXPECT_FALSE(std::filesystem::exists(dir / "hybrid"));
  }
  // --layers without --linear was ignored: the teacher's perplexity under a name that says otherwise.
  std::ofstream(dir / "text.txt") << "Once upon a time there was a cat.\n";
  expect_refused("perplexity" + m + " --data " + quoted(dir / "text.txt") + " --layers 0,1",
                 {"error: --layers: needs --linear"});
}

// A gold index past int64 printed "error: stoll".
TEST(HostileInput, HugeGoldIndexNamesTheTaskLine) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  const auto dir = hyb::test::temp_dir("hostile_gold");
  std::ofstream(dir / "task.jsonl") << "{\"context\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 0}\n"
                                       "{\"context\": \"b\", \"choices\": [\"x\", \"y\"], \"gold\": \"99999999999999999999999\"}\n";
  expect_refused("eval --model " + quoted(model) + " --data " + quoted(dir / "task.jsonl"),
                 {"error: " + (dir / "task.jsonl").string() + ":2: index '99999999999999999999999' is too large"});
}

// A checkpoint whose fp32 masters hold NaN resumed and rewrote every output with NaN, exit 0.
TEST(HostileInput, NanCheckpointIsRefusedOnResume) {
  HYB_REQUIRE_SHARED(model, "data/models/stories260K/hf");
  HYB_REQUIRE_SHARED(corpus, "data/corpora/tinystories/tinystories_val.txt");
  const auto dir = hyb::test::temp_dir("hostile_nan_checkpoint");
  const std::string bin = hyb::test::hybridize_binary().string();
  const std::string args = "distill --model " + quoted(model) + " --data " + quoted(corpus) + " --mixer gla --out " +
                           quoted(dir / "d") + " --tokens 1536 --seq-len 64 --batch-size 4 --eval-sequences 2 --no-progress";
  int rc = 0;
  const std::string first = run_command("'" + bin + "' " + args + " 2>&1", rc);
  ASSERT_EQ(rc, 0) << first;

  // One master value set to NaN in place: the header says where the tensor's bytes are.
  const auto ckpt = dir / "d" / "checkpoint.safetensors";
  std::fstream f(ckpt, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  std::string name;
  uint64_t begin = 0;
  const auto index = nlohmann::json::parse(header);
  for (const auto& [key, v] : index.items())
    if (key.rfind("master/", 0) == 0) {
      name = key, begin = v["data_offsets"][0].get<uint64_t>();
      break;
    }
  ASSERT_FALSE(name.empty()) << header;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  f.seekp(static_cast<std::streamoff>(8 + n + begin));
  f.write(reinterpret_cast<const char*>(&nan), sizeof nan);
  f.close();

  const auto before = hyb::read_file(dir / "d" / "linear.safetensors");
  expect_refused(args + " --resume", {"error: " + ckpt.string() + ": tensor '" + name + "' holds NaN or infinite values"});
  EXPECT_EQ(hyb::read_file(dir / "d" / "linear.safetensors"), before) << "the outputs were rewritten";
}

}  // namespace
