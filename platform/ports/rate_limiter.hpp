// The rate limiter port: the generic cell rate algorithm (GCRA) over named keys, shared by all
// processes that share the limiter (in process: adapters/memory; Redis: one Lua script in
// adapters/redis). The HTTP side (headers, 429, which keys) is gateway/ratelimit.
//
// A limit of `limit` requests per `period` lets a burst of `limit` through at once and then one
// every period/limit. Every adapter decides identically for the same sequence of calls and
// times (the contract suite checks it), so switching adapters changes no one's quota.
//
//   RateLimit limit;  limit.limit = 100;  limit.period = std::chrono::seconds(60);
//   auto d = co_await limiter.Acquire("org:" + org, limit, deadline);
//   if (d && !d->allowed) ... 429 with Retry-After: d->retry_after
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"

namespace trellis::platform::ports {

struct RateLimit {
  std::int64_t limit = 0;               // requests per period, and the burst; > 0
  std::chrono::milliseconds period{0};  // > 0
};

struct RateDecision {
  bool allowed = false;
  std::int64_t limit = 0;                    // RateLimit-Limit
  std::int64_t remaining = 0;                // RateLimit-Remaining: requests allowed now
  std::chrono::milliseconds reset{0};        // RateLimit-Reset: until the quota is whole
  std::chrono::milliseconds retry_after{0};  // when denied: until one request is allowed
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Counts one request against `key` if the limit allows it, and says what is left. A denied
  // request is not counted.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<RateDecision>> Acquire(
      std::string key, RateLimit limit, core::Clock::MonoTime deadline) = 0;
};

}  // namespace trellis::platform::ports
