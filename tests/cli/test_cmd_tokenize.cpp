// `hybridize tokenize` end to end: runs the built binary (tests/test_util.h finds it) and reads its
// stdout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../test_util.h"

using hyb::test::run_command;

TEST(CliTokenize, IdsPiecesStdinAndErrors) {
  HYB_REQUIRE_BINARY(bin);
  HYB_REQUIRE_SHARED(llama3, "data/tokenizers/llama3");
  HYB_REQUIRE_SHARED(llama2, "data/tokenizers/llama2");
  const std::string exe = std::string("'") + bin + "' tokenize --model '";
  int rc = -1;
  // "Hello world" in Llama-3: BOS, "Hello", " world".
  EXPECT_EQ(run_command(exe + llama3.string() + "' --text 'Hello world'", rc), "[128000,9906,1917]\n");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(run_command(exe + llama3.string() + "' --no-special --pieces --text 'Hello world'", rc),
            "[\"Hello\",\"Ġworld\"]\n");
  // --text is one unit, newlines included; --lines encodes each line apart.
  const std::string code = run_command(exe + llama3.string() + "' --no-special --text \"$(printf 'def f(x):\\n    return x')\"", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(std::count(code.begin(), code.end(), '\n'), 1) << code;
  const std::string first = run_command(exe + llama3.string() + "' --no-special --text 'def f(x):'", rc);
  const std::string second = run_command(exe + llama3.string() + "' --no-special --text '    return x'", rc);
  const std::string lines =
      run_command(exe + llama3.string() + "' --no-special --lines --text \"$(printf 'def f(x):\\n    return x')\"", rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(lines, first + second);
  EXPECT_NE(code, lines);
  // The newline is in the one unit's tokens (byte-level BPE writes it Ċ).
  const std::string pieces =
      run_command(exe + llama3.string() + "' --no-special --pieces --text \"$(printf 'def f(x):\\n    return x')\"", rc);
  EXPECT_NE(pieces.find("\u010a"), std::string::npos) << pieces;
  // One array per stdin line.
  EXPECT_EQ(run_command("printf 'a b\\nc\\n' | " + exe + llama2.string() + "' --no-special --pieces", rc),
            "[\"▁a\",\"▁b\"]\n[\"▁c\"]\n");
  // A directory without tokenizer.json: error naming the file, non-zero exit.
  const auto empty = hyb::test::temp_dir("cli_tokenize_empty");
  const std::string err = run_command(exe + empty.string() + "' --text x 2>&1", rc);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("tokenizer.json"), std::string::npos) << err;
}
