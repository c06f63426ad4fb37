// The Redis adapter of the rate limiter port (platform/ports/rate_limiter.hpp): GCRA in one Lua
// script, called by SHA (EVALSHA, loaded once per server by RedisClient::Eval), on the server's
// clock (`TIME`), so every process sharing the server shares one time line and one TAT per key.
// The arithmetic is ADR 0017's, in whole microseconds, the same as MemoryRateLimiter's: the same
// calls at the same times get the same decisions, Remaining, Reset and Retry-After. A key's TTL
// is the time until its TAT, so idle keys vanish (an absent key decides as an unseen one).
//
//   RedisRateLimiter limiter(client, clock, RedisRateLimiterSettings{});
//   auto d = co_await limiter.Acquire("org:" + org, limit, deadline);   // one round trip
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/rate_limiter.hpp"

namespace trellis::adapters::redis {

struct RedisRateLimiterSettings {
  // Before every key, so the limiter's keys stay apart from the cache's and the locks'.
  std::string key_prefix = "trellis:rl:";
};

class RedisRateLimiter final : public platform::ports::RateLimiter {
 public:
  // `client` and `clock` (deadlines only; decisions use the server's TIME) must outlive this.
  RedisRateLimiter(RedisClient& client, const platform::core::Clock& clock,
                   RedisRateLimiterSettings settings);

  // RateLimiter
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<platform::ports::RateDecision>>
  Acquire(std::string key, platform::ports::RateLimit limit,
          platform::core::Clock::MonoTime deadline) override;

 private:
  RedisClient& client_;
  const platform::core::Clock& clock_;
  const RedisRateLimiterSettings settings_;
};

}  // namespace trellis::adapters::redis
