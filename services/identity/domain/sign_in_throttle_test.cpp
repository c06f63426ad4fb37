#include "services/identity/domain/sign_in_throttle.hpp"

#include <gtest/gtest.h>

namespace trellis::identity::domain {
namespace {

using namespace std::chrono_literals;
using platform::core::ManualClock;

TEST(SignInThrottleTest, FiveFailuresLockTheAccountForTheWindow) {
  ManualClock clock;
  SignInThrottle t(SignInThrottleSettings{}, clock);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(t.Check("ada@example.com", "10.0.0.1"), ThrottleVerdict::kAllowed);
    t.RecordFailure("ada@example.com");
  }
  EXPECT_EQ(t.Check("ada@example.com", "10.0.0.2"), ThrottleVerdict::kAccountLocked);
  EXPECT_EQ(t.Check("bob@example.com", "10.0.0.1"), ThrottleVerdict::kAllowed);
  clock.Advance(15min - 1s);
  EXPECT_EQ(t.Check("ada@example.com", "10.0.0.2"), ThrottleVerdict::kAccountLocked);
  clock.Advance(1s);
  EXPECT_EQ(t.Check("ada@example.com", "10.0.0.2"), ThrottleVerdict::kAllowed);
}

TEST(SignInThrottleTest, SuccessClearsTheFailures) {
  ManualClock clock;
  SignInThrottle t(SignInThrottleSettings{}, clock);
  for (int i = 0; i < 4; ++i) t.RecordFailure("ada@example.com");
  t.RecordSuccess("ada@example.com");
  for (int i = 0; i < 4; ++i) t.RecordFailure("ada@example.com");
  EXPECT_EQ(t.Check("ada@example.com", "a"), ThrottleVerdict::kAllowed);
}

TEST(SignInThrottleTest, AnAddressGetsTwentyAttemptsAMinute) {
  ManualClock clock;
  SignInThrottle t(SignInThrottleSettings{}, clock);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(t.Check("user" + std::to_string(i), "10.0.0.9"), ThrottleVerdict::kAllowed);
    t.RecordAttempt("10.0.0.9");
  }
  EXPECT_EQ(t.Check("other", "10.0.0.9"), ThrottleVerdict::kAddressLimited);
  EXPECT_EQ(t.Check("other", "10.0.0.8"), ThrottleVerdict::kAllowed);
  clock.Advance(60s);
  EXPECT_EQ(t.Check("other", "10.0.0.9"), ThrottleVerdict::kAllowed);
}

TEST(SignInThrottleTest, MemoryIsBoundedByMaxTracked) {
  ManualClock clock;
  SignInThrottleSettings s;
  s.max_tracked = 3;
  SignInThrottle t(s, clock);
  for (int i = 0; i < 5; ++i) {
    t.RecordFailure("a");
    clock.Advance(1ms);
    t.RecordFailure("k" + std::to_string(i));
  }
  // "a" (the oldest window) was dropped to make room; it is not locked any more.
  EXPECT_EQ(t.Check("a", "x"), ThrottleVerdict::kAllowed);
}

}  // namespace
}  // namespace trellis::identity::domain
