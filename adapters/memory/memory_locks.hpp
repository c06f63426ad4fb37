// The embedded lock service: named leases with fencing tokens in this process, for singleton
// work (the outbox relay, schedulers) when one process is the whole deployment. The
// distributed shape uses adapters/redis instead; both pass tests/contract/lock_service_contract.
//
// Fencing tokens are never below the wall-clock time in microseconds, so a restarted process
// hands out tokens above any it handed out before and the SQL store's fence keeps accepting
// its writes (ADR 0017).
//
//   MemoryLocks locks(clock);
//   auto lease = co_await locks.Acquire("outbox-relay", node_id, 10s, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/lock_service.hpp"

namespace trellis::adapters::memory {

class MemoryLocks final : public platform::ports::LockService {
 public:
  explicit MemoryLocks(const platform::core::Clock& clock) : clock_(clock) {}

  // The synchronous forms the coroutines wrap (they never wait for anything but the mutex).
  [[nodiscard]] platform::core::Result<std::optional<platform::ports::Lease>> TryAcquire(
      const std::string& name, const std::string& owner, std::chrono::milliseconds ttl);
  [[nodiscard]] platform::core::Result<bool> TryRenew(const platform::ports::Lease& lease,
                                                      std::chrono::milliseconds ttl);
  void DoRelease(const platform::ports::Lease& lease);

  // Names currently held (leases not yet run out); for tests and metrics.
  [[nodiscard]] std::size_t Held() const;

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
  struct Holder {
    std::string owner;
    std::int64_t token = 0;
    platform::core::Clock::MonoTime expires;
  };

  // The next fencing token; mutex_ held.
  std::int64_t NextToken();
  // Drops run-out leases once the table has grown; mutex_ held.
  void SweepIfLarge(platform::core::Clock::MonoTime now);

  const platform::core::Clock& clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Holder> held_;  // guarded by mutex_
  std::int64_t last_token_ = 0;                   // guarded by mutex_
  std::size_t sweep_at_ = 1024;                   // guarded by mutex_
};

}  // namespace trellis::adapters::memory
