#include "adapters/memory/memory_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "platform/core/clock.hpp"
#include "tests/contract/rate_limiter_contract.hpp"

namespace trellis::adapters::memory {
namespace {

using platform::core::ManualClock;
using platform::ports::RateLimit;
using std::chrono::milliseconds;
using tests::contract::RateLimiterAdapter;
using tests::contract::RateLimiterContract;
using tests::contract::RateLimiterHarness;

class MemoryRateLimiterHarness final : public RateLimiterHarness {
 public:
  // RateLimiterHarness
  platform::ports::RateLimiter& Limiter() override { return limiter_; }
  const platform::core::Clock& Clock() override { return clock_; }
  void Elapse(milliseconds d) override { clock_.Advance(d); }

 private:
  ManualClock clock_;
  MemoryRateLimiter limiter_{RateLimiterSettings{}, clock_};
};

INSTANTIATE_TEST_SUITE_P(Memory, RateLimiterContract,
                         ::testing::Values(RateLimiterAdapter{
                             "memory",
                             [] { return std::make_unique<MemoryRateLimiterHarness>(); }}),
                         tests::contract::RateLimiterAdapterName);

// The same adapter on the system clock, time passing by sleeping: the suite as a real server's
// harness runs it (short TTLs, sleeps, tolerances), checked here where it cannot be flaky for
// network reasons.
class MemoryRateLimiterRealTimeHarness final : public RateLimiterHarness {
 public:
  // RateLimiterHarness
  platform::ports::RateLimiter& Limiter() override { return limiter_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }
  milliseconds Tolerance() override { return milliseconds(50); }

 private:
  MemoryRateLimiter limiter_{RateLimiterSettings{}, platform::core::SystemClock::Instance()};
};

INSTANTIATE_TEST_SUITE_P(MemoryRealTime, RateLimiterContract,
                         ::testing::Values(RateLimiterAdapter{
                             "memory_real_time",
                             [] { return std::make_unique<MemoryRateLimiterRealTimeHarness>(); }}),
                         tests::contract::RateLimiterAdapterName);

RateLimit Limit(std::int64_t limit, milliseconds period) {
  RateLimit out;
  out.limit = limit;
  out.period = period;
  return out;
}

TEST(GcraTest, FollowsTheFormulasOfAdr0017) {
  // 10 per second: T = 100,000 us, tau = 900,000 us.
  const RateLimit limit = Limit(10, milliseconds(1000));
  const std::int64_t now = 5'000'000;
  // Unseen key: TAT = now; allowed; new TAT = now + T; remaining = (tau - T) / T + 1 = 9.
  GcraStep first = Gcra(0, false, now, limit);
  EXPECT_TRUE(first.decision.allowed);
  EXPECT_EQ(first.new_tat_us, now + 100'000);
  EXPECT_EQ(first.decision.remaining, 9);
  EXPECT_EQ(first.decision.reset, milliseconds(100));
  // A TAT in the past counts as now.
  EXPECT_EQ(Gcra(now - 7'000'000, true, now, limit).new_tat_us, now + 100'000);
  // TAT - now = tau: the last slot of the burst.
  GcraStep last = Gcra(now + 900'000, true, now, limit);
  EXPECT_TRUE(last.decision.allowed);
  EXPECT_EQ(last.decision.remaining, 0);
  EXPECT_EQ(last.decision.reset, milliseconds(1000));
  // One microsecond more: denied, retry after that microsecond (rounded up to a millisecond).
  GcraStep denied = Gcra(now + 900'001, true, now, limit);
  EXPECT_FALSE(denied.decision.allowed);
  EXPECT_EQ(denied.decision.retry_after, milliseconds(1));
  EXPECT_EQ(denied.decision.reset, milliseconds(901));
  // Half an interval of slack left after this request: floor keeps remaining at what fits.
  GcraStep mid = Gcra(now + 350'000, true, now, limit);
  EXPECT_TRUE(mid.decision.allowed);
  EXPECT_EQ(mid.decision.remaining, 5);  // (900,000 - 450,000) / 100,000 + 1 = 5
}

TEST(MemoryRateLimiterTest, PassedKeysAreSweptAndLiveOnesKept) {
  ManualClock clock;
  RateLimiterSettings settings;
  settings.shards = 1;
  settings.sweep_interval = milliseconds(1000);
  MemoryRateLimiter limiter(settings, clock);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(limiter.TryAcquire("ip:" + std::to_string(i), Limit(10, milliseconds(1000))));
  }
  ASSERT_TRUE(limiter.TryAcquire("busy", Limit(1, milliseconds(60'000))));
  EXPECT_EQ(limiter.Keys(), 101u);
  clock.Advance(milliseconds(2000));
  auto fresh = limiter.TryAcquire("new", Limit(10, milliseconds(1000)));
  ASSERT_TRUE(fresh.has_value());
  // The 100 passed keys are gone; "busy" (TAT a minute out) and "new" remain.
  EXPECT_EQ(limiter.Keys(), 2u);
  auto busy = limiter.TryAcquire("busy", Limit(1, milliseconds(60'000)));
  ASSERT_TRUE(busy.has_value());
  EXPECT_FALSE(busy->allowed);
}

TEST(MemoryRateLimiterTest, ShardsDecideExactlyUnderThreads) {
  ManualClock clock;
  MemoryRateLimiter limiter(RateLimiterSettings{}, clock);
  constexpr int kThreads = 4;
  constexpr int kOwnKeys = 20;
  constexpr int kCalls = 30;  // per key, limit 10
  std::atomic<int> shared_allowed{0};
  std::atomic<int> own_allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        for (int k = 0; k < kOwnKeys; ++k) {
          auto d = limiter.TryAcquire(std::to_string(t) + ":" + std::to_string(k),
                                      Limit(10, milliseconds(1000)));
          if (d && d->allowed) ++own_allowed;
        }
        auto d = limiter.TryAcquire("shared", Limit(10, milliseconds(1000)));
        if (d && d->allowed) ++shared_allowed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared_allowed.load(), 10);
  EXPECT_EQ(own_allowed.load(), kThreads * kOwnKeys * 10);
  EXPECT_EQ(limiter.Keys(), std::size_t{kThreads * kOwnKeys + 1});
}

}  // namespace
}  // namespace trellis::adapters::memory
