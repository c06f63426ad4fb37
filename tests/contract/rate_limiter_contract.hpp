// The contract every RateLimiter adapter passes: GCRA with emission interval T = period/limit
// and a burst of `limit` — the burst, the denial with Retry-After, one more request every T,
// Remaining and Reset, independent keys, denied requests not counted, and the count allowed
// under concurrent callers. The formulas are ADR 0017's, in whole microseconds, so every
// adapter decides identically. An adapter's test instantiates it with a factory that yields a
// fresh limiter (no key seen) per test and a way to let time pass.
//
//   INSTANTIATE_TEST_SUITE_P(Memory, RateLimiterContract,
//                            ::testing::Values(RateLimiterAdapter{"memory", make}),
//                            RateLimiterAdapterName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/ports/rate_limiter.hpp"

namespace trellis::tests::contract {

// One fresh limiter. Calls come through RunSync from the test's thread and from other threads
// at once, each on its own io_context, as they would from several event-loop threads.
class RateLimiterHarness {
 public:
  virtual ~RateLimiterHarness() = default;
  virtual platform::ports::RateLimiter& Limiter() = 0;
  // The clock the tests take deadlines and elapsed time from.
  virtual const platform::core::Clock& Clock() = 0;
  // Lets `d` pass for the adapter: advances its ManualClock, or sleeps against a real server.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
  // How far a reported duration may be from the exact GCRA figure because time passes between
  // the test's calls: zero when time moves only in Elapse (a ManualClock), some milliseconds
  // against a real server.
  virtual std::chrono::milliseconds Tolerance() { return std::chrono::milliseconds(0); }
};

struct RateLimiterAdapter {
  std::string name;
  std::function<std::unique_ptr<RateLimiterHarness>()> make;
};

std::string RateLimiterAdapterName(const ::testing::TestParamInfo<RateLimiterAdapter>& info);

class RateLimiterContract : public ::testing::TestWithParam<RateLimiterAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  RateLimiterHarness& Harness() { return *harness_; }
  platform::ports::RateLimiter& Limiter() { return harness_->Limiter(); }
  // A deadline comfortably in the future.
  platform::core::Clock::MonoTime Deadline();
  // One Acquire run to completion with Deadline(); fails the test on an error.
  platform::ports::RateDecision Acquire(std::string key, platform::ports::RateLimit limit);

 private:
  std::unique_ptr<RateLimiterHarness> harness_;
};

}  // namespace trellis::tests::contract
