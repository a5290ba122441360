// byte_level: the bytes <-> characters table (see byte_level.h).
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace hyb::tok {

namespace {

struct Table {
  std::array<uint32_t, 256> to_cp{};      // byte -> code point
  std::array<int16_t, 324> to_byte{};     // code point (< 256 + 68) -> byte, or -1
  Table() {
    to_byte.fill(-1);
    // Printable: '!'..'~', '¡'..'¬', '®'..'ÿ' map to themselves.
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      to_cp[b] = printable(b) ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return table().to_cp[b]; }

std::string bytes_to_pieces(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8_append(out, table().to_cp[static_cast<uint8_t>(c)]);
  return out;
}

bool pieces_to_bytes(std::string_view piece, std::string& out) {
  const auto& t = table();
  out.clear();
  for (size_t i = 0; i < piece.size();) {
    const size_t n = utf8_seq_len(piece, i);
    if (!n) return false;
    const uint32_t cp = utf8_decode(piece, i, n);
    if (cp >= t.to_byte.size() || t.to_byte[cp] < 0) return false;
    out += static_cast<char>(t.to_byte[cp]);
    i += n;
  }
  return true;
}

}  // namespace hyb::tok
