// tokenizer: Hugging Face tokenizer.json (byte-level BPE as in Qwen2 / Llama-3; sentencepiece-style
// BPE with byte fallback as in Llama-2 / stories260K), added and special tokens, BOS/EOS rules from
// tokenizer_config.json and the post-processor, decoding back to text.
// Pure C++ (no torch): this header is cheap to include.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hyb {

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json (+ DIR/tokenizer_config.json when present), or a tokenizer.json path.
  // Throws hyb::Error naming the file on malformed input.
  static Tokenizer load(const std::filesystem::path& dir_or_file);

  // add_special: apply the post-processor's BOS/EOS rules (HF `add_special_tokens=True`).
  std::vector<int32_t> encode(std::string_view text, bool add_special = true) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The raw vocabulary string of one token (e.g. "Ġthe", "▁the", "<0x0A>").
  std::string piece(int32_t id) const;

  int32_t vocab_size() const;  // including added tokens (max id + 1)
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  bool adds_bos() const;  // does encode(add_special=true) prepend BOS?
  bool adds_eos() const;
  bool is_special(int32_t id) const;

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streams text while ids arrive one at a time (generation): emits only complete UTF-8, so
// byte-fallback and byte-level tokens that split a character print once the character is whole.
// The concatenation of everything push() and finish() return equals decode(all ids).
// Like HF's DecodeStream it decodes a short window (the ids of the previous output plus the new
// ones) and returns the part past the previous output, so the cost per id stays constant and
// decoders that look at context (Llama-2's leading-space strip) still see it.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false)
      : tok_(tok), skip_special_(skip_special) {}
  // Ids already shown by other means (a prompt printed as text): later pushes decode in their
  // context, so a continuation keeps its leading space ("▁world" after "Hello" -> " world").
  void prime(const std::vector<int32_t>& context);
  std::string push(int32_t id);  // newly completed text (may be empty)
  std::string finish();          // whatever is left

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // window: [context ids | ids not yet returned]
  size_t prefix_ids_ = 0;     // how many of ids_ are context
  std::string prefix_;        // decode(context ids), already returned
};

}  // namespace hyb
