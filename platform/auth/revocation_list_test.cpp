// The session revocation list over the in-process token store: revocations are picked up by the
// next refresh, run out with their sessions, survive a store that restarted empty, and reach a
// running list within a second.
#include "platform/auth/revocation_list.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

#include "adapters/memory/memory_token_store.hpp"
#include "platform/ports/run_sync.hpp"

namespace trellis::platform::auth {
namespace {

namespace asio = boost::asio;
using ports::RunSync;
constexpr auto kForever = core::Clock::MonoTime::max();

// Delegates to a store that a test can replace, as a Redis server restarting empty would.
class SwappableStore final : public ports::TokenStore {
 public:
  explicit SwappableStore(const core::Clock& clock) : clock_(clock) { Restart(); }
  void Restart() { inner_ = std::make_unique<adapters::memory::MemoryTokenStore>(clock_); }
  asio::awaitable<core::Result<void>> Revoke(std::string id, core::Clock::WallTime until,
                                             core::Clock::MonoTime deadline) override {
    co_return co_await inner_->Revoke(std::move(id), until, deadline);
  }
  asio::awaitable<core::Result<ports::RevocationPage>> RevokedSince(
      std::string cursor, core::Clock::MonoTime deadline) override {
    co_return co_await inner_->RevokedSince(std::move(cursor), deadline);
  }

 private:
  const core::Clock& clock_;
  std::unique_ptr<adapters::memory::MemoryTokenStore> inner_;
};

TEST(RevocationListTest, RefreshPicksUpRevocationsUntilTheyRunOut) {
  core::ManualClock clock;
  observe::Registry registry;
  SwappableStore store(clock);
  RevocationList list(store, clock, registry);
  ASSERT_TRUE(RunSync(store.Revoke("s1", clock.Now() + std::chrono::minutes(5), kForever)));
  EXPECT_FALSE(list.IsRevoked("s1")) << "not looked yet";
  ASSERT_TRUE(RunSync(list.Refresh(kForever)));
  EXPECT_TRUE(list.IsRevoked("s1"));
  EXPECT_FALSE(list.IsRevoked("s2"));
  EXPECT_FALSE(list.IsRevoked("")) << "a token without sid is not revoked by this list";
  ASSERT_TRUE(RunSync(store.Revoke("s2", clock.Now() + std::chrono::minutes(1), kForever)));
  ASSERT_TRUE(RunSync(list.Refresh(kForever)));
  EXPECT_TRUE(list.IsRevoked("s2"));
  EXPECT_EQ(list.Size(), 2U);
  clock.Advance(std::chrono::minutes(2));
  EXPECT_FALSE(list.IsRevoked("s2")) << "its tokens have expired anyway";
  EXPECT_TRUE(list.IsRevoked("s1"));
  ASSERT_TRUE(RunSync(list.Refresh(kForever)));
  EXPECT_EQ(list.Size(), 1U) << "run-out entries are dropped";
}

TEST(RevocationListTest, AStoreThatRestartedEmptyIsReadAgainAndNothingKnownIsForgotten) {
  core::ManualClock clock;
  observe::Registry registry;
  SwappableStore store(clock);
  RevocationList list(store, clock, registry);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(RunSync(
        store.Revoke("old" + std::to_string(i), clock.Now() + std::chrono::minutes(5), kForever)));
  }
  ASSERT_TRUE(RunSync(list.Refresh(kForever)));
  store.Restart();
  ASSERT_TRUE(RunSync(store.Revoke("new", clock.Now() + std::chrono::minutes(5), kForever)));
  ASSERT_TRUE(RunSync(list.Refresh(kForever)));
  EXPECT_TRUE(list.IsRevoked("new")) << "read from the start after the reset";
  EXPECT_TRUE(list.IsRevoked("old0")) << "a revocation is never undone by a restart";
}

TEST(RevocationListTest, ARunningListSeesARevocationWithinASecond) {
  const core::Clock& clock = core::SystemClock::Instance();
  observe::Registry registry;
  SwappableStore store(clock);
  RevocationList list(store, clock, registry);
  asio::io_context ctx;
  asio::co_spawn(ctx, list.Run(), asio::detached);
  std::thread loop([&] { ctx.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto revoked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunSync(store.Revoke("s", clock.Now() + std::chrono::minutes(5), kForever)));
  while (!list.IsRevoked("s") &&
         std::chrono::steady_clock::now() - revoked_at < std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto took = std::chrono::steady_clock::now() - revoked_at;
  EXPECT_TRUE(list.IsRevoked("s"));
  EXPECT_LT(took, std::chrono::seconds(1));
  list.Stop();
  loop.join();
}

}  // namespace
}  // namespace trellis::platform::auth
