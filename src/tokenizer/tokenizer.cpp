// tokenizer: encode and decode through the parts of impl.h, and StreamDecoder.
#include "tokenizer/tokenizer.h"

#include "tokenizer/impl.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hyb {

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

// ---------------------------------------------------------------------------------------------
// Encode: text -> added-token split -> per plain segment: normalize -> (normalized added tokens)
// -> pre-tokenize -> BPE per word; then the post-processor's prefix/suffix.

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  const Impl& t = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special) ids = t.prefix;

  std::vector<tok::Segment> segs, norm_segs;
  std::string norm_buf;
  tok::PieceStore store;
  auto encode_plain = [&](std::string_view s, bool at_start) {
    store.clear();
    t.pre.run(s, at_start, store, [&](const tok::Piece& w) { t.model.tokenize(w.text, ids); });
  };

  t.added.split(text, false, segs);
  for (const tok::Segment& seg : segs) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    const std::string_view norm = t.normalizer.apply(text.substr(seg.begin, seg.end - seg.begin), norm_buf);
    const bool at_start = seg.begin == 0;
    if (!t.added.has_normalized()) {
      encode_plain(norm, at_start);
      continue;
    }
    norm_segs.clear();
    t.added.split(norm, true, norm_segs);
    for (const tok::Segment& ns : norm_segs) {
      if (ns.id >= 0) ids.push_back(ns.id);
      else encode_plain(norm.substr(ns.begin, ns.end - ns.begin), at_start && ns.begin == 0);
    }
  }

  if (add_special) ids.insert(ids.end(), t.suffix.begin(), t.suffix.end());
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Decode: ids -> pieces (unknown ids dropped, special ones too if asked) -> decoder chain.

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& t = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= t.vocab_size() || t.pieces[id].empty()) continue;
    if (skip_special && t.special[id]) continue;
    tokens.push_back(t.pieces[id]);
  }
  return t.decoder.run(std::move(tokens));
}

std::string Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= impl_->vocab_size() || impl_->pieces[id].empty())
    fail(impl_->source, "token id {} is not in the vocabulary", id);
  return impl_->pieces[id];
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size(); }
std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
bool Tokenizer::adds_bos() const { return impl_->bos && !impl_->prefix.empty() && impl_->prefix.front() == *impl_->bos; }
bool Tokenizer::adds_eos() const { return impl_->eos && !impl_->suffix.empty() && impl_->suffix.back() == *impl_->eos; }
bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size() && impl_->special[id];
}

// ---------------------------------------------------------------------------------------------
// StreamDecoder: decode the window; once it grows past the context's text without ending in a
// replacement character (an unfinished UTF-8 sequence), return the growth and make the ids
// just returned the new context.

namespace {
bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && std::string_view(s).substr(s.size() - 3) == tok::kReplacementChar;
}
}  // namespace

void StreamDecoder::prime(const std::vector<int32_t>& context) {
  ids_ = context;
  prefix_ids_ = ids_.size();
  prefix_ = tok_.decode(ids_, skip_special_);
}

std::string StreamDecoder::push(int32_t id) {
  ids_.push_back(id);
  std::string s = tok_.decode(ids_, skip_special_);
  if (s.size() <= prefix_.size() || ends_with_replacement(s) || s.compare(0, prefix_.size(), prefix_) != 0)
    return {};
  std::string out = s.substr(prefix_.size());
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<ptrdiff_t>(prefix_ids_));
  prefix_ids_ = ids_.size();
  prefix_ = tok_.decode(ids_, skip_special_);
  return out;
}

std::string StreamDecoder::finish() {
  std::string s = tok_.decode(ids_, skip_special_);
  std::string out = s.size() > prefix_.size() && s.compare(0, prefix_.size(), prefix_) == 0
                        ? s.substr(prefix_.size()) : std::string();
  ids_.clear();
  prefix_ids_ = 0;
  prefix_.clear();
  return out;
}

}  // namespace hyb
