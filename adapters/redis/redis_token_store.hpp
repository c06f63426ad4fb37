// The Redis adapter of the token store port (platform/ports/token_store.hpp): the session
// revocation list shared by every process, with MemoryTokenStore's cursor semantics (ADR 0017)
// made to survive a Redis that restarted empty. Each call is one Lua script (one round trip).
//
// Keys under `key_prefix`: `seq` (the last sequence number handed out), `log` (sorted set:
// session -> its sequence number), `exp` (sorted set: session -> expiry, ms since the epoch) and
// `forgotten` (the highest number forgotten). A history starts at the server's TIME in µs rather
// than at 1, with `forgotten` at that start: a cursor from before a restart (or from nowhere) is
// below the new start and answers `reset`, where a count from 1 would reuse numbers and silently
// skip revocations. Cursors are decimal, as the memory adapter's. Expired entries are forgotten
// (oldest first, at most `prune_batch` per call) on every call; times come from the injected
// clock's Now(), as the expiries do. The keys carry no TTL: run Redis with a maxmemory-policy
// that never evicts them (noeviction or volatile-*).
//
//   RedisTokenStore tokens(client, clock, RedisTokenStoreSettings{});
//   co_await tokens.Revoke(sid, clock.Now() + refresh_ttl, deadline);
//   auto page = co_await tokens.RevokedSince(cursor, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::adapters::redis {

struct RedisTokenStoreSettings {
  std::string key_prefix = "trellis:revoked:";
  // Expired entries forgotten per call at most, so that one call's script stays short.
  std::size_t prune_batch = 1000;
};

class RedisTokenStore final : public platform::ports::TokenStore {
 public:
  // `client` and `clock` must outlive this.
  RedisTokenStore(RedisClient& client, const platform::core::Clock& clock,
                  RedisTokenStoreSettings settings);

  // TokenStore
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Revoke(
      std::string session_id, platform::core::Clock::WallTime expires_at,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<platform::ports::RevocationPage>>
  RevokedSince(std::string cursor, platform::core::Clock::MonoTime deadline) override;

 private:
  [[nodiscard]] std::vector<std::string> Keys() const;

  RedisClient& client_;
  const platform::core::Clock& clock_;
  const RedisTokenStoreSettings settings_;
};

}  // namespace trellis::adapters::redis
