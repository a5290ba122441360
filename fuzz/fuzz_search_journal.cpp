// fuzz_search_journal: search's ScoreJournal on a candidates.jsonl of the fuzzer's bytes, as
// `search --resume` reads it (one {"layers", "score", "seconds"} object per line; a torn last line
// is rescored), then a few lookups as the search's rounds make them.
#include "fuzz/fuzz_common.h"
#include "search/search.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = hyb::fuzz::write_input("candidates.jsonl", data, size);
  hyb::fuzz::accept_or_refuse([&] {
    hyb::ScoreJournal journal(path, /*resume=*/true, /*write=*/false);
    const hyb::ScoreFn fn = [](const hyb::LayerSet& layers, const hyb::LayerSet&) { return double(layers.size()); };
    for (const hyb::LayerSet& s : {hyb::LayerSet{}, hyb::LayerSet{0}, hyb::LayerSet{1, 3}, hyb::LayerSet{0, 1, 2, 3}})
      (void)journal.score(s, fn, nullptr);
  });
  return 0;
}
