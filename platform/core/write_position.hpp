// Read-your-writes across database replicas: how far into the primary's write history one
// caller has written. A write transaction raises it to (at least) its commit's position; a
// read-only transaction that carries it runs on a replica only when that replica has replayed
// that far, else on the primary. It lives as long as the caller's request and travels between
// requests as an opaque token the client echoes (the Trellis-Consistency header). Positions
// are PostgreSQL LSNs; an engine without replicas never moves it from 0.
//
//   auto written = std::make_shared<WritePosition>();      // per request
//   written->Advance(commit_lsn);                           // by the store, after a commit
//   if (replica_lsn >= written->Get()) { /* the replica may serve this caller */ }
#pragma once

#include <atomic>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trellis::platform::core {

class WritePosition {
 public:
  WritePosition() = default;
  explicit WritePosition(std::uint64_t position) : position_(position) {}

  [[nodiscard]] std::uint64_t Get() const { return position_.load(std::memory_order_acquire); }
  // Keeps the larger of the two: positions only move forward.
  void Advance(std::uint64_t position) {
    std::uint64_t seen = position_.load(std::memory_order_relaxed);
    while (seen < position &&
           !position_.compare_exchange_weak(seen, position, std::memory_order_acq_rel)) {
    }
  }

  // The token form: 16 lower-case hex digits. Not signed: a client that sends a position
  // ahead of the primary only sends its own reads to the primary.
  [[nodiscard]] static std::string Format(std::uint64_t position) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, position >>= 4)
      out[static_cast<std::size_t>(i)] = kHex[position & 0xf];
    return out;
  }
  // nullopt unless 1..16 hex digits.
  [[nodiscard]] static std::optional<std::uint64_t> Parse(std::string_view token) {
    if (token.empty() || token.size() > 16) return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value, 16);
    if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
    return value;
  }

 private:
  std::atomic<std::uint64_t> position_{0};
};

}  // namespace trellis::platform::core
