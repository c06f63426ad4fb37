// The Redis adapter of the lock port (platform/ports/lock_service.hpp): named leases shared by
// every process on the server, for singleton work (the outbox relay, schedulers). Acquire,
// Renew and Release are one Lua script each (atomic on the server, one round trip).
//
// A lease is a hash `<prefix><name>` {owner, token} with a PX TTL (the server's clock runs it
// out). Fencing tokens follow MemoryLocks' rule (ADR 0017): token = max(last + 1, server TIME in
// µs), with `last` kept per name in `<prefix><name>:fence`, a key without TTL. So tokens
// strictly increase per name over all acquisitions, and never go backwards even when the lease
// key expired, the counter was lost (a restart with no persistence, a failover that lost the
// last write) or the process switched from the embedded adapter, as long as the server's wall
// clock did not step back by more than the outage.
//
//   RedisLocks locks(client, clock, RedisLocksSettings{});
//   auto lease = co_await locks.Acquire("outbox-relay", node_id, 10s, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/lock_service.hpp"

namespace trellis::adapters::redis {

struct RedisLocksSettings {
  // Before every lease name.
  std::string key_prefix = "trellis:lock:";
};

class RedisLocks final : public platform::ports::LockService {
 public:
  // `client` and `clock` (deadlines only; leases run on the server's clock) must outlive this.
  RedisLocks(RedisClient& client, const platform::core::Clock& clock, RedisLocksSettings settings);

  // LockService
  [[nodiscard]] boost::asio::awaitable<
      platform::core::Result<std::optional<platform::ports::Lease>>>
  Acquire(std::string name, std::string owner, std::chrono::milliseconds ttl,
          platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<bool>> Renew(
      platform::ports::Lease lease, std::chrono::milliseconds ttl,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> Release(
      platform::ports::Lease lease, platform::core::Clock::MonoTime deadline) override;

 private:
  [[nodiscard]] platform::core::Result<void> Check(platform::core::Clock::MonoTime deadline) const;

  RedisClient& client_;
  const platform::core::Clock& clock_;
  const RedisLocksSettings settings_;
};

}  // namespace trellis::adapters::redis
