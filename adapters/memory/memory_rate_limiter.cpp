#include "adapters/memory/memory_rate_limiter.hpp"

#include <algorithm>
#include <functional>
#include <string_view>
#include <utility>

namespace trellis::adapters::memory {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::RateDecision;
using platform::ports::RateLimit;
using std::chrono::milliseconds;

namespace {

constexpr std::int64_t kUsPerMs = 1000;

// Microseconds to the port's milliseconds, rounded up: a client that waits Retry-After is then
// allowed, and Reset is never early.
milliseconds CeilMs(std::int64_t us) { return milliseconds((us + kUsPerMs - 1) / kUsPerMs); }

}  // namespace

GcraStep Gcra(std::int64_t stored_tat_us, bool has_tat, std::int64_t now_us,
              const RateLimit& limit) {
  const std::int64_t period_us = static_cast<std::int64_t>(limit.period.count()) * kUsPerMs;
  const std::int64_t t = std::max<std::int64_t>(1, period_us / limit.limit);  // emission interval
  const std::int64_t tau = (limit.limit - 1) * t;                             // burst tolerance
  const std::int64_t tat = has_tat ? std::max(stored_tat_us, now_us) : now_us;
  GcraStep step;
  step.decision.limit = limit.limit;
  if (tat - now_us > tau) {
    step.decision.allowed = false;
    step.decision.remaining = 0;
    step.decision.retry_after = CeilMs(tat - now_us - tau);
    step.decision.reset = CeilMs(tat - now_us);
    return step;
  }
  step.new_tat_us = tat + t;
  const std::int64_t slack = tau - (step.new_tat_us - now_us);
  step.decision.allowed = true;
  step.decision.remaining = slack >= 0 ? slack / t + 1 : 0;
  step.decision.reset = CeilMs(step.new_tat_us - now_us);
  step.decision.retry_after = milliseconds(0);
  return step;
}

MemoryRateLimiter::MemoryRateLimiter(RateLimiterSettings settings,
                                     const platform::core::Clock& clock)
    : clock_(clock),
      sweep_interval_us_(std::max<std::int64_t>(
          1, static_cast<std::int64_t>(settings.sweep_interval.count()) * kUsPerMs)) {
  const std::size_t n = std::max<std::size_t>(1, settings.shards);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

MemoryRateLimiter::~MemoryRateLimiter() = default;

std::int64_t MemoryRateLimiter::NowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             clock_.Monotonic().time_since_epoch())
      .count();
}

Result<RateDecision> MemoryRateLimiter::TryAcquire(const std::string& key, const RateLimit& limit) {
  if (limit.limit <= 0 || limit.period <= milliseconds::zero()) {
    return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid rate limit",
                                "rate limit needs limit > 0 and period > 0 (key " + key + ")");
  }
  const std::int64_t now = NowUs();
  Shard& shard = *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  std::lock_guard lock(shard.mutex);
  if (now >= shard.next_sweep_us) {
    // A passed TAT decides as an unseen key does, so dropping it changes no decision.
    std::erase_if(shard.tat_us, [now](const auto& entry) { return entry.second <= now; });
    shard.next_sweep_us = now + sweep_interval_us_;
  }
  auto it = shard.tat_us.find(key);
  const bool has = it != shard.tat_us.end();
  GcraStep step = Gcra(has ? it->second : 0, has, now, limit);
  if (step.decision.allowed) {
    if (has) {
      it->second = step.new_tat_us;
    } else {
      shard.tat_us.emplace(key, step.new_tat_us);
    }
  }
  return step.decision;
}

std::size_t MemoryRateLimiter::Keys() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->tat_us.size();
  }
  return n;
}

boost::asio::awaitable<Result<RateDecision>> MemoryRateLimiter::Acquire(
    std::string key, RateLimit limit, platform::core::Clock::MonoTime deadline) {
  if (clock_.Monotonic() >= deadline) {
    co_return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                   "rate limiter call after its deadline");
  }
  co_return TryAcquire(key, limit);
}

}  // namespace trellis::adapters::memory
