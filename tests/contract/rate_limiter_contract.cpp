#include "tests/contract/rate_limiter_contract.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/ports/run_sync.hpp"

namespace trellis::tests::contract {

using platform::core::ErrorCode;
using platform::ports::RateDecision;
using platform::ports::RateLimit;
using platform::ports::RunSync;
using std::chrono::milliseconds;

// Test binaries that link the suite without instantiating it (other tests of an adapter).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RateLimiterContract);

std::string RateLimiterAdapterName(const ::testing::TestParamInfo<RateLimiterAdapter>& info) {
  return info.param.name;
}

void RateLimiterContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

platform::core::Clock::MonoTime RateLimiterContract::Deadline() {
  return harness_->Clock().Monotonic() + std::chrono::seconds(5);
}

RateDecision RateLimiterContract::Acquire(std::string key, RateLimit limit) {
  auto decision = RunSync(Limiter().Acquire(std::move(key), limit, Deadline()));
  EXPECT_TRUE(decision.has_value()) << decision.error().internal;
  if (!decision) return RateDecision{};
  return *decision;
}

namespace {

RateLimit Limit(std::int64_t limit, milliseconds period) {
  RateLimit out;
  out.limit = limit;
  out.period = period;
  return out;
}

// 5 per second: T = 200 ms, a burst of 5.
const RateLimit kFivePerSecond = Limit(5, milliseconds(1000));
constexpr milliseconds kT{200};

}  // namespace

// Within the harness's tolerance of the exact figure.
#define EXPECT_DURATION(actual, expected_ms)                                           \
  EXPECT_NEAR(static_cast<double>((actual).count()), static_cast<double>(expected_ms), \
              static_cast<double>(Harness().Tolerance().count()))

TEST_P(RateLimiterContract, BurstOfLimitThenDeniedForOneInterval) {
  for (int i = 1; i <= 5; ++i) {
    const RateDecision d = Acquire("user:1", kFivePerSecond);
    EXPECT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 5 - i) << "request " << i;
    // The quota is whole again once every request counted so far is one T old.
    EXPECT_DURATION(d.reset, i * kT.count());
    EXPECT_EQ(d.retry_after, milliseconds(0));
  }
  const RateDecision denied = Acquire("user:1", kFivePerSecond);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.limit, 5);
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_DURATION(denied.retry_after, kT.count());
  EXPECT_DURATION(denied.reset, 1000);
}

TEST_P(RateLimiterContract, OneMoreEveryInterval) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Acquire("user:1", kFivePerSecond).allowed);
  for (int round = 0; round < 3; ++round) {
    Harness().Elapse(kT);
    const RateDecision d = Acquire("user:1", kFivePerSecond);
    EXPECT_TRUE(d.allowed) << "round " << round;
    EXPECT_EQ(d.remaining, 0);
    const RateDecision again = Acquire("user:1", kFivePerSecond);
    EXPECT_FALSE(again.allowed) << "round " << round;
    EXPECT_GT(again.retry_after, milliseconds(0));
    EXPECT_LE(again.retry_after, kT);
  }
}

TEST_P(RateLimiterContract, DeniedRequestsAreNotCounted) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Acquire("user:1", kFivePerSecond).allowed);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Acquire("user:1", kFivePerSecond).allowed);
  Harness().Elapse(kT);
  // Had the denials counted, the next slot would be ten intervals away.
  EXPECT_TRUE(Acquire("user:1", kFivePerSecond).allowed);
}

TEST_P(RateLimiterContract, QuotaIsWholeAfterReset) {
  RateDecision last;
  for (int i = 0; i < 5; ++i) last = Acquire("user:1", kFivePerSecond);
  ASSERT_TRUE(last.allowed);
  Harness().Elapse(last.reset);
  for (int i = 1; i <= 5; ++i) {
    const RateDecision d = Acquire("user:1", kFivePerSecond);
    EXPECT_TRUE(d.allowed) << "request " << i;
    EXPECT_EQ(d.remaining, 5 - i);
  }
  EXPECT_FALSE(Acquire("user:1", kFivePerSecond).allowed);
}

TEST_P(RateLimiterContract, KeysAreIndependent) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Acquire("org:a", kFivePerSecond).allowed);
  EXPECT_FALSE(Acquire("org:a", kFivePerSecond).allowed);
  const RateDecision other = Acquire("org:b", kFivePerSecond);
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.remaining, 4);
}

TEST_P(RateLimiterContract, FractionalIntervalsRoundDurationsUp) {
  // 3 per second: T = 333,333 us; Retry-After is rounded up so that retrying then succeeds.
  const RateLimit three = Limit(3, milliseconds(1000));
  RateDecision d;
  for (int i = 0; i < 3; ++i) d = Acquire("ip:10.0.0.1", three);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_DURATION(d.reset, 1000);
  const RateDecision denied = Acquire("ip:10.0.0.1", three);
  EXPECT_FALSE(denied.allowed);
  EXPECT_DURATION(denied.retry_after, 334);
  Harness().Elapse(denied.retry_after);
  EXPECT_TRUE(Acquire("ip:10.0.0.1", three).allowed);
}

TEST_P(RateLimiterContract, LimitOfOne) {
  const RateLimit one = Limit(1, milliseconds(300));
  const RateDecision first = Acquire("key:1", one);
  EXPECT_TRUE(first.allowed);
  EXPECT_EQ(first.remaining, 0);
  EXPECT_DURATION(first.reset, 300);
  const RateDecision second = Acquire("key:1", one);
  EXPECT_FALSE(second.allowed);
  EXPECT_DURATION(second.retry_after, 300);
  Harness().Elapse(milliseconds(300));
  EXPECT_TRUE(Acquire("key:1", one).allowed);
}

TEST_P(RateLimiterContract, InvalidLimitIsRefused) {
  auto zero =
      RunSync(Limiter().Acquire(std::string("k"), Limit(0, milliseconds(1000)), Deadline()));
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
  auto no_period =
      RunSync(Limiter().Acquire(std::string("k"), Limit(5, milliseconds(0)), Deadline()));
  ASSERT_FALSE(no_period.has_value());
  EXPECT_EQ(no_period.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(RateLimiterContract, PassedDeadlineFailsAndCountsNothing) {
  const RateLimit one = Limit(1, milliseconds(10'000));
  const auto past = Harness().Clock().Monotonic() - milliseconds(1);
  auto late = RunSync(Limiter().Acquire(std::string("key:1"), one, past));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_TRUE(Acquire("key:1", one).allowed);
}

TEST_P(RateLimiterContract, ConcurrentCallersGetExactlyWhatGcraAllows) {
  // 50 per 10 s: T = 200 ms. Two threads ask 100 times each, far more than is allowed.
  const RateLimit limit = Limit(50, milliseconds(10'000));
  constexpr int kThreads = 2;
  constexpr int kCalls = 100;
  std::atomic<int> allowed{0};
  std::atomic<int> errors{0};
  const auto start = Harness().Clock().Monotonic();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        auto d = RunSync(Limiter().Acquire(std::string("org:hot"), limit, Deadline()));
        if (!d) {
          ++errors;
        } else if (d->allowed) {
          ++allowed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto elapsed =
      std::chrono::duration_cast<milliseconds>(Harness().Clock().Monotonic() - start);
  EXPECT_EQ(errors.load(), 0);
  // The burst, plus one per T that passed meanwhile (none on a ManualClock).
  EXPECT_GE(allowed.load(), 50);
  const auto extra = elapsed / milliseconds(200) + (Harness().Tolerance().count() > 0 ? 1 : 0);
  EXPECT_LE(allowed.load(), 50 + extra);
}

#undef EXPECT_DURATION

}  // namespace trellis::tests::contract
