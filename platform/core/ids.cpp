#include "platform/core/ids.hpp"

#include <array>
#include <chrono>
#include <random>

namespace trellis::platform::core {

namespace {

std::mt19937_64& Engine() {
  thread_local std::mt19937_64 engine{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  return engine;
}

}  // namespace

std::string UuidV7Generator::Next() {
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count());
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  const std::uint64_t r1 = Engine()();
  const std::uint64_t r2 = Engine()();
  for (int i = 6; i < 8; ++i) b[i] = static_cast<std::uint8_t>(r1 >> (8 * i));
  for (int i = 8; i < 16; ++i) b[i] = static_cast<std::uint8_t>(r2 >> (8 * (i - 8)));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x70);  // version 7
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // variant 10

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace trellis::platform::core
