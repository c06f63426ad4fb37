#include "adapters/redis/redis_rate_limiter.hpp"

#include <utility>
#include <vector>

namespace trellis::adapters::redis {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::RateDecision;
using platform::ports::RateLimit;
using std::chrono::milliseconds;

namespace {

constexpr std::int64_t kUsPerMs = 1000;

// ADR 0017's GCRA. Microseconds since the epoch (~1.8e15) are exact in a Lua double (< 2^53);
// the TAT is stored with %.0f, since tostring would print it with 14 significant digits.
// Returns {allowed, remaining, retry_after_us, reset_us}.
const RedisScript kGcra(R"lua(
local limit = tonumber(ARGV[1])
local period_us = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local t = math.max(1, math.floor(period_us / limit))
local tau = (limit - 1) * t
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
if tat - now > tau then
  return {0, 0, tat - now - tau, tat - now}
end
local new_tat = tat + t
local slack = tau - (new_tat - now)
local remaining = 0
if slack >= 0 then remaining = math.floor(slack / t) + 1 end
local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
return {1, remaining, 0, new_tat - now}
)lua");

milliseconds CeilMs(std::int64_t us) { return milliseconds((us + kUsPerMs - 1) / kUsPerMs); }

}  // namespace

RedisRateLimiter::RedisRateLimiter(RedisClient& client, const platform::core::Clock& clock,
                                   RedisRateLimiterSettings settings)
    : client_(client), clock_(clock), settings_(std::move(settings)) {}

boost::asio::awaitable<Result<RateDecision>> RedisRateLimiter::Acquire(
    std::string key, RateLimit limit, platform::core::Clock::MonoTime deadline) {
  if (limit.limit <= 0 || limit.period <= milliseconds::zero()) {
    co_return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid rate limit",
                                   "rate limit needs limit > 0 and period > 0 (key " + key + ")");
  }
  if (clock_.Monotonic() >= deadline) {
    co_return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                   "rate limiter call after its deadline");
  }
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + key);
  std::vector<std::string> args;
  args.push_back(std::to_string(limit.limit));
  args.push_back(std::to_string(static_cast<std::int64_t>(limit.period.count()) * kUsPerMs));
  auto reply = co_await client_.Eval(kGcra, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsArray() || reply->elements.size() != 4) {
    co_return platform::core::Fail(
        ErrorCode::kUnavailable, "rate limiter unavailable",
        "redis GCRA script: " + (reply->IsError() ? reply->str : "unexpected reply"));
  }
  for (const RedisReply& element : reply->elements) {
    if (!element.IsInteger()) {
      co_return platform::core::Fail(ErrorCode::kUnavailable, "rate limiter unavailable",
                                     "redis GCRA script: a non-integer in its reply");
    }
  }
  RateDecision decision;
  decision.allowed = reply->elements[0].integer == 1;
  decision.limit = limit.limit;
  decision.remaining = reply->elements[1].integer;
  decision.retry_after = CeilMs(reply->elements[2].integer);
  decision.reset = CeilMs(reply->elements[3].integer);
  co_return decision;
}

}  // namespace trellis::adapters::redis
