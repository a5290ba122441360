// byte_level: GPT-2's reversible map between bytes and printable characters.
// Byte-level BPE vocabularies spell every token with 256 "visible" characters so that a space is
// "Ġ" (U+0120) and a newline "Ċ" (U+010A): bytes that are printable Latin-1 keep their code point,
// the 68 others (controls, space, 0x7F-0xA0, 0xAD) take U+0100, U+0101, ... in byte order.
// The model code works on raw bytes and uses this map only to read and write vocabulary strings.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace hyb::tok {

// Code point standing for byte b.
uint32_t byte_to_codepoint(uint8_t b);

// Vocabulary spelling of raw bytes: "hi there" -> "hiĠthere".
std::string bytes_to_pieces(std::string_view bytes);

// Inverse: "hiĠthere" -> "hi there". Returns false (out unspecified) if a character of the piece is
// not one of the 256, as for an added token holding a raw space or newline.
bool pieces_to_bytes(std::string_view piece, std::string& out);

}  // namespace hyb::tok
