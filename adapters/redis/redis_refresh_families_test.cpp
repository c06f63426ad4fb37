// RedisRefreshFamilies against a real redis-server: the refresh-families contract suite, keys
// that leave Redis once their tokens are past use, and two processes' worth of clients (two
// connections) racing to rotate one token.
#include "adapters/redis/redis_refresh_families.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "adapters/redis/redis_ports_test_util.hpp"
#include "tests/contract/refresh_families_contract.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::ports::RefreshGrant;
using platform::ports::RotateOutcome;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::HopFamilies;
using testing::LoopAndClient;
using testing::SharedServer;
using tests::contract::RefreshFamiliesAdapter;
using tests::contract::RefreshFamiliesContract;
using tests::contract::RefreshFamiliesHarness;

class RedisRefreshFamiliesHarness final : public RefreshFamiliesHarness {
 public:
  RedisRefreshFamiliesHarness() { SharedServer().Cli("FLUSHALL"); }
  platform::ports::RefreshFamilies& Families() override { return hop_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  LoopAndClient redis_{SharedServer().Port()};
  RedisRefreshFamilies families_{redis_.client, platform::core::SystemClock::Instance(),
                                 RedisRefreshFamiliesSettings{}};
  HopFamilies hop_{families_, redis_.Io()};
};

INSTANTIATE_TEST_SUITE_P(Redis, RefreshFamiliesContract,
                         ::testing::Values(RefreshFamiliesAdapter{
                             "redis",
                             [] { return std::make_unique<RedisRefreshFamiliesHarness>(); }}),
                         tests::contract::RefreshFamiliesAdapterName);

RefreshGrant GrantOf(const std::string& family, const std::string& session) {
  RefreshGrant g;
  g.family_id = family;
  g.session_id = session;
  g.user_id = "u1";
  g.client_id = "web";
  g.scope = "openid";
  g.auth_time_ms = 1;
  return g;
}

TEST(RedisRefreshFamiliesTest, KeysExpireAfterTheirTokensPlusRetention) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  LoopAndClient redis(server.Port());
  RedisRefreshFamiliesSettings settings;
  settings.key_prefix = "rt:";
  settings.retain = milliseconds(100);
  RedisRefreshFamilies families(redis.client, platform::core::SystemClock::Instance(), settings);
  const auto now = platform::core::SystemClock::Instance().Now();
  ASSERT_TRUE(redis
                  .Run(families.Issue("tok", GrantOf("fam", "sid"), now + milliseconds(100),
                                      Deadline(milliseconds(500))))
                  .value_or(false));
  EXPECT_EQ(server.Cli("EXISTS", "rt:t:tok"), "1");
  EXPECT_EQ(server.Cli("EXISTS", "rt:f:fam"), "1");
  EXPECT_EQ(server.Cli("SISMEMBER", "rt:s:sid", "fam"), "1");
  // Every key carries an expiry: nothing is left behind by a family nobody uses again.
  for (const char* key : {"rt:t:tok", "rt:f:fam", "rt:s:sid"}) {
    EXPECT_NE(server.Cli("PTTL", key), "-1") << key;
  }
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(server.Cli("DBSIZE"), "0");
}

TEST(RedisRefreshFamiliesTest, TwoConnectionsRacingOneTokenRotateItOnce) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  LoopAndClient a(server.Port());
  LoopAndClient b(server.Port());
  const auto& clock = platform::core::SystemClock::Instance();
  RedisRefreshFamilies fa(a.client, clock, {});
  RedisRefreshFamilies fb(b.client, clock, {});
  for (int round = 0; round < 50; ++round) {
    const std::string token = "tok-" + std::to_string(round);
    ASSERT_TRUE(a.Run(fa.Issue(token, GrantOf("fam-" + std::to_string(round), "sid"),
                               clock.Now() + std::chrono::minutes(1), Deadline(milliseconds(500))))
                    .value_or(false));
    RotateOutcome oa{};
    RotateOutcome ob{};
    std::thread ta([&] {
      auto r = a.Run(fa.Rotate(token, "web", token + "-a", clock.Now() + std::chrono::minutes(1),
                               Deadline(milliseconds(500))));
      oa = r ? r->outcome : RotateOutcome::kUnknown;
    });
    std::thread tb([&] {
      auto r = b.Run(fb.Rotate(token, "web", token + "-b", clock.Now() + std::chrono::minutes(1),
                               Deadline(milliseconds(500))));
      ob = r ? r->outcome : RotateOutcome::kUnknown;
    });
    ta.join();
    tb.join();
    EXPECT_EQ((oa == RotateOutcome::kRotated) + (ob == RotateOutcome::kRotated), 1);
    EXPECT_EQ((oa == RotateOutcome::kReused) + (ob == RotateOutcome::kReused), 1);
  }
}

}  // namespace
}  // namespace trellis::adapters::redis
