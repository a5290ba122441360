// string_map: piece -> id for a vocabulary of up to a few hundred thousand short strings.
// All keys live in one byte arena and the table is open addressing over (hash, offset, length,
// id) slots: compared with std::unordered_map<std::string, int> this makes no allocation per
// entry (loading 150K pieces), and looks up a std::string_view without building a std::string
// (encoding looks up whole words and characters).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace hyb::tok {

class StringMap {
 public:
  // Inserts or overwrites.
  void set(std::string_view key, int32_t id);
  // The id of key, or -1.
  int32_t get(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() && std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0)
        return s.id;
    }
  }
  size_t size() const { return size_; }
  void reserve(size_t n);
  void clear();

  // Calls f(key, id) for every entry.
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.id >= 0) f(std::string_view(arena_.data() + s.off, s.len), s.id);
  }

  static uint64_t hash(std::string_view s) {  // FNV-1a, then a final mix for the low bits
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
    return h ^ (h >> 29);
  }

 private:
  struct Slot {
    uint64_t hash;
    uint32_t off, len;
    int32_t id;  // -1: empty
  };
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace hyb::tok
