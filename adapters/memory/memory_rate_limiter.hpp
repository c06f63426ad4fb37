// The embedded rate limiter: the RateLimiter port as GCRA in process. The state of a key is its
// theoretical arrival time (TAT); keys hash to one of `shards` shards, each a map under its own
// mutex, and a shard drops the keys whose TAT has passed (they decide exactly as an unseen key
// would) at most once per `sweep_interval`. The arithmetic is ADR 0017's, in whole microseconds,
// shared with the Redis Lua script (adapters/redis) so that both decide identically.
//
//   MemoryRateLimiter limiter(RateLimiterSettings{}, clock);
//   auto d = co_await limiter.Acquire("org:" + org, limit, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/rate_limiter.hpp"

namespace trellis::adapters::memory {

struct RateLimiterSettings {
  // Independent key maps, each under its own mutex.
  std::size_t shards = 16;
  // How often a shard drops keys whose TAT has passed.
  std::chrono::milliseconds sweep_interval{10'000};
};

// One GCRA decision from the stored TAT (nullopt: key unseen or dropped), in microseconds on any
// monotonic time line. Returns the decision and the TAT to store when allowed. Pure, so that
// tests and the ADR can state it exactly.
struct GcraStep {
  platform::ports::RateDecision decision;
  std::int64_t new_tat_us = 0;  // meaningful when decision.allowed
};
[[nodiscard]] GcraStep Gcra(std::int64_t stored_tat_us, bool has_tat, std::int64_t now_us,
                            const platform::ports::RateLimit& limit);

class MemoryRateLimiter final : public platform::ports::RateLimiter {
 public:
  MemoryRateLimiter(RateLimiterSettings settings, const platform::core::Clock& clock);
  ~MemoryRateLimiter() override;
  MemoryRateLimiter(const MemoryRateLimiter&) = delete;
  MemoryRateLimiter& operator=(const MemoryRateLimiter&) = delete;

  // The synchronous form the coroutine wraps.
  [[nodiscard]] platform::core::Result<platform::ports::RateDecision> TryAcquire(
      const std::string& key, const platform::ports::RateLimit& limit);
  // Keys with state (their TAT not yet swept away).
  [[nodiscard]] std::size_t Keys() const;

  // RateLimiter
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<platform::ports::RateDecision>>
  Acquire(std::string key, platform::ports::RateLimit limit,
          platform::core::Clock::MonoTime deadline) override;

 private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::int64_t> tat_us;  // guarded by mutex
    std::int64_t next_sweep_us = 0;                        // guarded by mutex
  };

  std::int64_t NowUs() const;

  const platform::core::Clock& clock_;
  const std::int64_t sweep_interval_us_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace trellis::adapters::memory
