#include "tests/contract/lock_service_contract.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/ports/run_sync.hpp"

namespace trellis::tests::contract {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Lease;
using platform::ports::RunSync;
using std::chrono::milliseconds;

// Test binaries that link the suite without instantiating it (other tests of an adapter).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LockServiceContract);

std::string LockServiceAdapterName(const ::testing::TestParamInfo<LockServiceAdapter>& info) {
  return info.param.name;
}

void LockServiceContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

platform::core::Clock::MonoTime LockServiceContract::Deadline() {
  return harness_->Clock().Monotonic() + std::chrono::seconds(5);
}

Result<std::optional<Lease>> LockServiceContract::Acquire(std::string name, std::string owner,
                                                          milliseconds ttl) {
  return RunSync(Locks().Acquire(std::move(name), std::move(owner), ttl, Deadline()));
}

Result<bool> LockServiceContract::Renew(Lease lease, milliseconds ttl) {
  return RunSync(Locks().Renew(std::move(lease), ttl, Deadline()));
}

Result<void> LockServiceContract::Release(Lease lease) {
  return RunSync(Locks().Release(std::move(lease), Deadline()));
}

namespace {

// Short enough that a real server's suite passes quickly, long enough that a sleep of half of
// it does not run out on a loaded machine.
constexpr milliseconds kTtl{300};

}  // namespace

TEST_P(LockServiceContract, AcquiredLeaseKeepsOtherOwnersOut) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value()) << a.error().internal;
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->name, "relay");
  EXPECT_EQ((*a)->owner, "node-a");
  EXPECT_GT((*a)->fencing_token, 0);

  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value()) << b.error().internal;
  EXPECT_FALSE(b->has_value());

  // Names are independent.
  auto other = Acquire("scheduler", "node-b", kTtl);
  ASSERT_TRUE(other.has_value()) << other.error().internal;
  EXPECT_TRUE(other->has_value());
}

TEST_P(LockServiceContract, ExpiredLeaseIsTakenOverWithAHigherToken) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  Harness().Elapse(kTtl + milliseconds(150));

  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value()) << b.error().internal;
  ASSERT_TRUE(b->has_value());
  EXPECT_GT((*b)->fencing_token, (*a)->fencing_token);

  // The old holder has lost it: it cannot renew it, and its release frees nothing.
  auto renewed = Renew(**a, kTtl);
  ASSERT_TRUE(renewed.has_value()) << renewed.error().internal;
  EXPECT_FALSE(*renewed);
  auto released = Release(**a);
  ASSERT_TRUE(released.has_value()) << released.error().internal;
  auto c = Acquire("relay", "node-c", kTtl);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_value());
}

TEST_P(LockServiceContract, RenewExtendsTheLease) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  Harness().Elapse(milliseconds(150));
  // Renewed for longer than it was taken, so that a sleep that overshoots cannot end it early.
  auto renewed = Renew(**a, 2 * kTtl);
  ASSERT_TRUE(renewed.has_value()) << renewed.error().internal;
  EXPECT_TRUE(*renewed);

  // Past the first lease's end, well within the renewed one.
  Harness().Elapse(milliseconds(200));
  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->has_value());

  // Past the renewed one.
  Harness().Elapse(2 * kTtl - milliseconds(100));
  b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->has_value());
  EXPECT_GT((*b)->fencing_token, (*a)->fencing_token);
}

TEST_P(LockServiceContract, RenewAfterTheLeaseRanOutIsFalse) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  Harness().Elapse(kTtl + milliseconds(150));
  // Nobody took it, but it ran out: the holder must acquire again (and get a new token).
  auto renewed = Renew(**a, kTtl);
  ASSERT_TRUE(renewed.has_value()) << renewed.error().internal;
  EXPECT_FALSE(*renewed);
}

TEST_P(LockServiceContract, RenewNeedsTheSameOwnerAndToken) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  Lease wrong_owner = **a;
  wrong_owner.owner = "node-b";
  auto r1 = Renew(wrong_owner, kTtl);
  ASSERT_TRUE(r1.has_value());
  EXPECT_FALSE(*r1);
  Lease wrong_token = **a;
  wrong_token.fencing_token += 1000;
  auto r2 = Renew(wrong_token, kTtl);
  ASSERT_TRUE(r2.has_value());
  EXPECT_FALSE(*r2);
  auto r3 = Renew(**a, kTtl);
  ASSERT_TRUE(r3.has_value());
  EXPECT_TRUE(*r3);
}

TEST_P(LockServiceContract, ReleaseFreesTheName) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  auto released = Release(**a);
  ASSERT_TRUE(released.has_value()) << released.error().internal;

  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->has_value());
  EXPECT_GT((*b)->fencing_token, (*a)->fencing_token);

  // A released lease cannot be renewed, and releasing it again is not an error.
  auto renewed = Renew(**a, kTtl);
  ASSERT_TRUE(renewed.has_value());
  EXPECT_FALSE(*renewed);
  auto again = Release(**a);
  EXPECT_TRUE(again.has_value());
  // Nor does it free the new holder's lease.
  auto c = Acquire("relay", "node-c", kTtl);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_value());
}

TEST_P(LockServiceContract, ReleaseByAnotherOwnerKeepsTheLease) {
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  Lease forged = **a;
  forged.owner = "node-b";
  EXPECT_TRUE(Release(forged).has_value());
  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->has_value());
}

TEST_P(LockServiceContract, FencingTokensStrictlyIncreasePerName) {
  std::int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string owner = "node-" + std::to_string(i % 3);
    auto lease = Acquire("relay", owner, kTtl);
    ASSERT_TRUE(lease.has_value()) << lease.error().internal;
    ASSERT_TRUE(lease->has_value()) << "acquisition " << i;
    EXPECT_GT((*lease)->fencing_token, last) << "acquisition " << i;
    last = (*lease)->fencing_token;
    // Alternate between giving it up and letting another name's traffic interleave.
    if (i % 2 == 0) {
      ASSERT_TRUE(Release(**lease).has_value());
    } else {
      auto other = Acquire("other-" + std::to_string(i), owner, kTtl);
      ASSERT_TRUE(other.has_value());
      ASSERT_TRUE(Release(**lease).has_value());
    }
  }
}

TEST_P(LockServiceContract, ReacquireBySameOwnerBumpsTheToken) {
  auto first = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(first.has_value() && first->has_value());
  auto second = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(second.has_value()) << second.error().internal;
  ASSERT_TRUE(second->has_value());
  EXPECT_GT((*second)->fencing_token, (*first)->fencing_token);

  // The earlier lease is superseded: only the new token renews, the old one releases nothing.
  auto old_renew = Renew(**first, kTtl);
  ASSERT_TRUE(old_renew.has_value());
  EXPECT_FALSE(*old_renew);
  EXPECT_TRUE(Release(**first).has_value());
  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->has_value());
  auto new_renew = Renew(**second, kTtl);
  ASSERT_TRUE(new_renew.has_value());
  EXPECT_TRUE(*new_renew);
}

TEST_P(LockServiceContract, PassedDeadlineTakesNothing) {
  const auto past = Harness().Clock().Monotonic() - milliseconds(1);
  auto late = RunSync(Locks().Acquire(std::string("relay"), std::string("node-a"), kTtl, past));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ErrorCode::kDeadlineExceeded);
  auto b = Acquire("relay", "node-b", kTtl);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->has_value());

  auto renew = RunSync(Locks().Renew(**b, kTtl, past));
  ASSERT_FALSE(renew.has_value());
  EXPECT_EQ(renew.error().code, ErrorCode::kDeadlineExceeded);
  auto release = RunSync(Locks().Release(**b, past));
  ASSERT_FALSE(release.has_value());
  EXPECT_EQ(release.error().code, ErrorCode::kDeadlineExceeded);
  // Still held by b.
  auto c = Acquire("relay", "node-c", kTtl);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_value());
}

TEST_P(LockServiceContract, NonPositiveTtlIsInvalid) {
  auto zero = Acquire("relay", "node-a", milliseconds(0));
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
  auto a = Acquire("relay", "node-a", kTtl);
  ASSERT_TRUE(a.has_value() && a->has_value());
  auto renew = Renew(**a, milliseconds(-5));
  ASSERT_FALSE(renew.has_value());
  EXPECT_EQ(renew.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(LockServiceContract, ConcurrentAcquirersGetOneLease) {
  constexpr int kThreads = 2;
  constexpr int kAttempts = 50;
  std::atomic<int> granted{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        const std::string owner = "node-" + std::to_string(t) + "-" + std::to_string(i);
        auto lease = RunSync(
            Locks().Acquire(std::string("relay"), owner, std::chrono::seconds(30), Deadline()));
        if (!lease) {
          ++errors;
        } else if (lease->has_value()) {
          ++granted;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(granted.load(), 1);
}

}  // namespace trellis::tests::contract
