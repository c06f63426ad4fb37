// The embedded token store: the session revocation list in process. Each revocation gets the
// next sequence number; the cursor is the decimal number of the last one recorded when a page
// was read. Entries are forgotten once their expiry passes; a cursor older than the newest
// forgotten entry (it would have missed that one) or newer than anything recorded (another
// history) answers `reset`. The distributed shape uses adapters/redis (a sorted set); both pass
// tests/contract/token_store_contract.
//
//   MemoryTokenStore tokens(clock);
//   co_await tokens.Revoke(sid, clock.Now() + refresh_ttl, deadline);
//   auto page = co_await tokens.RevokedSince(cursor, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::adapters::memory {

class MemoryTokenStore final : public platform::ports::TokenStore {
 public:
  explicit MemoryTokenStore(const platform::core::Clock& clock) : clock_(clock) {}

  // The synchronous forms the coroutines wrap.
  void DoRevoke(const std::string& session_id, platform::core::Clock::WallTime expires_at);
  [[nodiscard]] platform::core::Result<platform::ports::RevocationPage> DoRevokedSince(
      const std::string& cursor);
  // Revocations kept now (expired ones not yet forgotten included).
  [[nodiscard]] std::size_t Kept() const;

  // TokenStore
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Revoke(
      std::string session_id, platform::core::Clock::WallTime expires_at,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<platform::ports::RevocationPage>>
  RevokedSince(std::string cursor, platform::core::Clock::MonoTime deadline) override;

 private:
  // Forgets the entries whose expiry has passed; mutex_ held.
  void Forget(platform::core::Clock::WallTime now);
  // Unlinks the entry recorded at `seq`; mutex_ held.
  void Unlink(std::uint64_t seq);

  const platform::core::Clock& clock_;
  mutable std::mutex mutex_;
  // All guarded by mutex_:
  std::map<std::uint64_t, platform::ports::Revocation> log_;  // by sequence number
  std::unordered_map<std::string, std::uint64_t> by_session_;
  std::set<std::pair<platform::core::Clock::WallTime, std::uint64_t>> by_expiry_;
  std::uint64_t last_seq_ = 0;       // the newest sequence number handed out
  std::uint64_t forgotten_max_ = 0;  // the newest sequence number forgotten
};

}  // namespace trellis::adapters::memory
