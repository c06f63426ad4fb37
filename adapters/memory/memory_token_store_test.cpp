#include "adapters/memory/memory_token_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "platform/core/clock.hpp"
#include "tests/contract/token_store_contract.hpp"

namespace trellis::adapters::memory {
namespace {

using platform::core::ManualClock;
using std::chrono::milliseconds;
using tests::contract::TokenStoreAdapter;
using tests::contract::TokenStoreContract;
using tests::contract::TokenStoreHarness;

class MemoryTokenStoreHarness final : public TokenStoreHarness {
 public:
  // TokenStoreHarness
  platform::ports::TokenStore& Tokens() override { return tokens_; }
  const platform::core::Clock& Clock() override { return clock_; }
  void Elapse(milliseconds d) override { clock_.Advance(d); }

 private:
  ManualClock clock_;
  MemoryTokenStore tokens_{clock_};
};

INSTANTIATE_TEST_SUITE_P(Memory, TokenStoreContract,
                         ::testing::Values(TokenStoreAdapter{
                             "memory", [] { return std::make_unique<MemoryTokenStoreHarness>(); }}),
                         tests::contract::TokenStoreAdapterName);

// The same adapter on the system clock, time passing by sleeping: the suite as a real server's
// harness runs it (short TTLs, sleeps, tolerances), checked here where it cannot be flaky for
// network reasons.
class MemoryTokenStoreRealTimeHarness final : public TokenStoreHarness {
 public:
  // TokenStoreHarness
  platform::ports::TokenStore& Tokens() override { return tokens_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  MemoryTokenStore tokens_{platform::core::SystemClock::Instance()};
};

INSTANTIATE_TEST_SUITE_P(MemoryRealTime, TokenStoreContract,
                         ::testing::Values(TokenStoreAdapter{
                             "memory_real_time",
                             [] { return std::make_unique<MemoryTokenStoreRealTimeHarness>(); }}),
                         tests::contract::TokenStoreAdapterName);

TEST(MemoryTokenStoreTest, CursorIsTheDecimalSequenceNumber) {
  ManualClock clock;
  MemoryTokenStore tokens(clock);
  auto empty = tokens.DoRevokedSince("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->cursor, "0");
  tokens.DoRevoke("a", clock.Now() + milliseconds(1000));
  tokens.DoRevoke("b", clock.Now() + milliseconds(1000));
  tokens.DoRevoke("a", clock.Now() + milliseconds(1000));  // no change: no number
  auto page = tokens.DoRevokedSince("1");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->cursor, "2");
  ASSERT_EQ(page->revoked.size(), 1u);
  EXPECT_EQ(page->revoked[0].session_id, "b");
  // Signs, spaces and overflow are not sequence numbers.
  for (const char* bad : {"-1", " 1", "1 ", "+1", "99999999999999999999999", "0x10"}) {
    auto r = tokens.DoRevokedSince(bad);
    EXPECT_FALSE(r.has_value()) << bad;
  }
}

TEST(MemoryTokenStoreTest, ForgettingFreesTheEntries) {
  ManualClock clock;
  MemoryTokenStore tokens(clock);
  for (int i = 0; i < 100; ++i) {
    tokens.DoRevoke("sid-" + std::to_string(i), clock.Now() + milliseconds(100 + i));
  }
  EXPECT_EQ(tokens.Kept(), 100u);
  clock.Advance(milliseconds(150));
  ASSERT_TRUE(tokens.DoRevokedSince("").has_value());
  EXPECT_EQ(tokens.Kept(), 49u);  // expiries 100..199 ms: those up to 150 are over
  clock.Advance(milliseconds(100));
  ASSERT_TRUE(tokens.DoRevokedSince("").has_value());
  EXPECT_EQ(tokens.Kept(), 0u);
}

TEST(MemoryTokenStoreTest, RevocationAlreadyOverIsNotRecorded) {
  ManualClock clock;
  MemoryTokenStore tokens(clock);
  tokens.DoRevoke("old", clock.Now() - milliseconds(1));
  tokens.DoRevoke("now", clock.Now());
  auto page = tokens.DoRevokedSince("");
  ASSERT_TRUE(page.has_value());
  EXPECT_TRUE(page->revoked.empty());
  EXPECT_EQ(page->cursor, "0");
}

TEST(MemoryTokenStoreTest, ConcurrentRevokesAreAllRecordedInOneOrder) {
  ManualClock clock;
  MemoryTokenStore tokens(clock);
  constexpr int kThreads = 4;
  constexpr int kEach = 250;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        tokens.DoRevoke(std::to_string(t) + ":" + std::to_string(i),
                        clock.Now() + milliseconds(60'000));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto page = tokens.DoRevokedSince("");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->cursor, std::to_string(kThreads * kEach));
  std::set<std::string> seen;
  for (const auto& r : page->revoked) seen.insert(r.session_id);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads) * kEach);
  // Each thread's own revocations appear in the order it made them.
  std::vector<int> next(kThreads, 0);
  for (const auto& r : page->revoked) {
    const int t = r.session_id[0] - '0';
    EXPECT_EQ(r.session_id, std::to_string(t) + ":" + std::to_string(next[t]));
    ++next[t];
  }
}

}  // namespace
}  // namespace trellis::adapters::memory
