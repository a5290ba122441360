// fuzz/exercise_tokenizer: what generate and the data pipeline do with a loaded tokenizer, for the
// two tokenizer targets: encode a fixed text, decode the ids (whole and streamed), look up pieces.
#pragma once
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hyb::fuzz {

// Encodes and decodes `text` with `tok` as the CLI does.
inline void exercise(const Tokenizer& tok) {
  static const std::string text = "Once upon a time, \xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 <s> 12345!\n\t  end</s>";
  const std::vector<int32_t> ids = tok.encode(text);
  (void)tok.decode(ids);
  (void)tok.decode(ids, /*skip_special=*/true);
  StreamDecoder stream(tok);
  for (int32_t id : ids) (void)stream.push(id);
  (void)stream.finish();
  const int32_t n = tok.vocab_size();
  for (int32_t id = 0; id < n && id < 4096; ++id) {
    (void)tok.piece(id);
    (void)tok.is_special(id);
  }
  (void)tok.bos_id();
  (void)tok.eos_id();
}

}  // namespace hyb::fuzz

