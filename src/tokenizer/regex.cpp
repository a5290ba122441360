// regex: PCRE2 wrapper (see regex.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hyb::tok {

struct Regex::Code {
  pcre2_code* re = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(re); }
};

namespace {

// Per-thread match state, shared by all patterns: one ovector pair is all we read, and a JIT
// stack larger than PCRE2's 32 KiB default so that long runs of whitespace or letters
// (\s+(?!\S), \p{L}+) never hit the stack limit.
struct ThreadState {
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* mc = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  ThreadState() { pcre2_jit_stack_assign(mc, nullptr, stack); }
  ~ThreadState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
  }
};

ThreadState& thread_state() {
  thread_local ThreadState ts;
  return ts;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Regex::Regex(std::string_view pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()), where_(where) {
  // PCRE2_LITERAL refuses UCP (it has no classes to apply it to).
  const uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  code_->re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts,
                            &err, &err_off, nullptr);
  if (!code_->re)
    fail(where, "regex /{}/ does not compile at offset {}: {}", pattern, err_off, pcre2_message(err));
  code_->jit = pcre2_jit_compile(code_->re, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() = default;

bool Regex::find(std::string_view s, size_t from, size_t& start, size_t& end) const {
  ThreadState& ts = thread_state();
  const auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  while (from < s.size()) {
    int rc = code_->jit ? pcre2_jit_match(code_->re, subject, s.size(), from, 0, ts.md, ts.mc)
                        : PCRE2_ERROR_JIT_BADOPTION;
    // Without JIT, or if JIT ran out of stack: the interpreter (heap-backed backtracking).
    if (rc == PCRE2_ERROR_JIT_BADOPTION || rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code_->re, subject, s.size(), from, PCRE2_NO_JIT, ts.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) fail(where_, "regex match failed: {}", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.md);
    if (ov[1] > ov[0]) {
      start = ov[0], end = ov[1];
      return true;
    }
    // Empty match: HF drops empty pieces, so look again one character further.
    from = ov[0] + utf8_char_len(s, ov[0] < s.size() ? ov[0] : s.size() - 1);
  }
  return false;
}

}  // namespace hyb::tok
