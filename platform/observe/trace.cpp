#include "platform/observe/trace.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace trellis::platform::observe {

namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// Hex of random 64-bit words, formatted a word at a time: this runs for every request.
std::string RandomHex(std::size_t chars) {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(chars, '0');
  for (std::size_t i = 0; i < chars; i += 16) {
    std::uint64_t r = engine();
    const std::size_t n = std::min<std::size_t>(16, chars - i);
    for (std::size_t j = 0; j < n; ++j, r >>= 4) out[i + j] = kHex[r & 0xF];
  }
  return out;
}

}  // namespace

TraceContext TraceContext::FromHeader(std::string_view h) {
  TraceContext t;
  t.span_id = RandomHex(16);
  // version(2) - trace-id(32) - parent-id(16) - flags(2); version 00 is exactly 55 chars.
  if (h.size() == 55 && h[2] == '-' && h[35] == '-' && h[52] == '-' && h.substr(0, 2) == "00") {
    const auto trace = h.substr(3, 32);
    const auto parent = h.substr(36, 16);
    const auto flags = h.substr(53, 2);
    if (IsLowerHex(trace) && IsLowerHex(parent) && IsLowerHex(flags) && !AllZero(trace) &&
        !AllZero(parent)) {
      t.trace_id = std::string(trace);
      t.parent_id = std::string(parent);
      t.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
      return t;
    }
  }
  t.trace_id = RandomHex(32);
  return t;
}

std::string TraceContext::ToHeader() const {
  return "00-" + trace_id + "-" + span_id + (sampled ? "-01" : "-00");
}

}  // namespace trellis::platform::observe
