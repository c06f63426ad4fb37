#include "adapters/memory/memory_locks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "platform/core/clock.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/contract/lock_service_contract.hpp"

namespace trellis::adapters::memory {
namespace {

using platform::core::ManualClock;
using platform::ports::RunSync;
using std::chrono::milliseconds;
using tests::contract::LockServiceAdapter;
using tests::contract::LockServiceContract;
using tests::contract::LockServiceHarness;

class MemoryLocksHarness final : public LockServiceHarness {
 public:
  // LockServiceHarness
  platform::ports::LockService& Locks() override { return locks_; }
  const platform::core::Clock& Clock() override { return clock_; }
  void Elapse(milliseconds d) override { clock_.Advance(d); }

 private:
  ManualClock clock_;
  MemoryLocks locks_{clock_};
};

INSTANTIATE_TEST_SUITE_P(Memory, LockServiceContract,
                         ::testing::Values(LockServiceAdapter{
                             "memory", [] { return std::make_unique<MemoryLocksHarness>(); }}),
                         tests::contract::LockServiceAdapterName);

// The same adapter on the system clock, time passing by sleeping: the suite as a real server's
// harness runs it (short TTLs, sleeps, tolerances), checked here where it cannot be flaky for
// network reasons.
class MemoryLocksRealTimeHarness final : public LockServiceHarness {
 public:
  // LockServiceHarness
  platform::ports::LockService& Locks() override { return locks_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  MemoryLocks locks_{platform::core::SystemClock::Instance()};
};

INSTANTIATE_TEST_SUITE_P(MemoryRealTime, LockServiceContract,
                         ::testing::Values(LockServiceAdapter{
                             "memory_real_time",
                             [] { return std::make_unique<MemoryLocksRealTimeHarness>(); }}),
                         tests::contract::LockServiceAdapterName);

TEST(MemoryLocksTest, TokensStayAboveThoseOfAnEarlierProcess) {
  // A restarted process starts a new MemoryLocks; the SQL store still remembers the tokens the
  // old one handed out, so the new ones must be higher.
  ManualClock clock;
  std::int64_t before = 0;
  {
    MemoryLocks first(clock);
    for (int i = 0; i < 5; ++i) {
      auto lease = first.TryAcquire("relay", "node-a", milliseconds(100));
      ASSERT_TRUE(lease.has_value() && lease->has_value());
      before = (*lease)->fencing_token;
    }
  }
  clock.Advance(std::chrono::seconds(1));
  MemoryLocks second(clock);
  auto lease = second.TryAcquire("relay", "node-a", milliseconds(100));
  ASSERT_TRUE(lease.has_value() && lease->has_value());
  EXPECT_GT((*lease)->fencing_token, before);
}

TEST(MemoryLocksTest, RunOutLeasesAreSweptWhenTheTableGrows) {
  ManualClock clock;
  MemoryLocks locks(clock);
  for (int i = 0; i < 2000; ++i) {
    auto lease = locks.TryAcquire("job-" + std::to_string(i), "node-a", milliseconds(100));
    ASSERT_TRUE(lease.has_value() && lease->has_value());
  }
  EXPECT_EQ(locks.Held(), 2000u);
  clock.Advance(milliseconds(200));
  EXPECT_EQ(locks.Held(), 0u);
  // The sweep runs on the next acquisition; the held names are still refused to others.
  auto held = locks.TryAcquire("held", "node-a", milliseconds(1000));
  ASSERT_TRUE(held.has_value() && held->has_value());
  auto other = locks.TryAcquire("held", "node-b", milliseconds(1000));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->has_value());
  EXPECT_EQ(locks.Held(), 1u);
}

TEST(MemoryLocksTest, LeaseEndsExactlyAtItsTtl) {
  ManualClock clock;
  MemoryLocks locks(clock);
  auto a = locks.TryAcquire("relay", "node-a", milliseconds(100));
  ASSERT_TRUE(a.has_value() && a->has_value());
  clock.Advance(milliseconds(99));
  auto early = locks.TryAcquire("relay", "node-b", milliseconds(100));
  ASSERT_TRUE(early.has_value());
  EXPECT_FALSE(early->has_value());
  clock.Advance(milliseconds(1));
  auto due = locks.TryAcquire("relay", "node-b", milliseconds(100));
  ASSERT_TRUE(due.has_value());
  EXPECT_TRUE(due->has_value());
  auto late = RunSync(locks.Renew(**a, milliseconds(100), clock.Monotonic() + milliseconds(10)));
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(*late);
}

}  // namespace
}  // namespace trellis::adapters::memory
