// The lock port: named leases with fencing tokens, for singleton work (the outbox relay,
// schedulers) and leader election. In process: adapters/memory; Redis: adapters/redis.
//
// A lease is held for `ttl` unless renewed. Every acquisition of a name gets a fencing token
// greater than any token handed out for that name before, so a holder that was paused past its
// lease (GC, SIGSTOP, a slow disk) and wakes up with an old token is told apart from the new
// holder: writes carry the token, and the SQL store refuses a token lower than one it has seen
// (TransactionOptions::Fence).
//
//   auto lease = co_await locks.Acquire("outbox-relay", node_id, 10s, deadline);
//   if (lease && *lease) { ... writes with Fence("outbox-relay", (*lease)->fencing_token) ... }
//   co_await locks.Renew(**lease, 10s, deadline);   // well before it runs out
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"

namespace trellis::platform::ports {

struct Lease {
  std::string name;
  std::string owner;
  std::int64_t fencing_token = 0;
};

class LockService {
 public:
  virtual ~LockService() = default;

  // Takes `name` for `ttl` if it is free or its lease ran out; nullopt when someone else holds
  // it. An owner that already holds it gets a new lease with a new fencing token.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<std::optional<Lease>>> Acquire(
      std::string name, std::string owner, std::chrono::milliseconds ttl,
      core::Clock::MonoTime deadline) = 0;

  // Extends a lease still held (same owner and token) to `ttl` from now; false when it was
  // lost (ran out and was taken, or released).
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<bool>> Renew(
      Lease lease, std::chrono::milliseconds ttl, core::Clock::MonoTime deadline) = 0;

  // Gives the lease up if still held; a lost lease is not an error.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> Release(
      Lease lease, core::Clock::MonoTime deadline) = 0;
};

}  // namespace trellis::platform::ports
