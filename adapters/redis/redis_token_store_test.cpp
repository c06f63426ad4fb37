// RedisTokenStore against a real redis-server: the token store contract suite, and a cursor from
// before a restart (the server lost everything) answering `reset` instead of skipping entries.
#include "adapters/redis/redis_token_store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "adapters/redis/redis_ports_test_util.hpp"
#include "tests/contract/token_store_contract.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::ports::RevocationPage;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::HopTokens;
using testing::LoopAndClient;
using testing::SharedServer;
using tests::contract::TokenStoreAdapter;
using tests::contract::TokenStoreContract;
using tests::contract::TokenStoreHarness;

class RedisTokenStoreHarness final : public TokenStoreHarness {
 public:
  RedisTokenStoreHarness() { SharedServer().Cli("FLUSHALL"); }
  // TokenStoreHarness
  platform::ports::TokenStore& Tokens() override { return hop_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  LoopAndClient redis_{SharedServer().Port()};
  RedisTokenStore tokens_{redis_.client, platform::core::SystemClock::Instance(),
                          RedisTokenStoreSettings{}};
  HopTokens hop_{tokens_, redis_.Io()};
};

INSTANTIATE_TEST_SUITE_P(Redis, TokenStoreContract,
                         ::testing::Values(TokenStoreAdapter{
                             "redis", [] { return std::make_unique<RedisTokenStoreHarness>(); }}),
                         tests::contract::TokenStoreAdapterName);

TEST(RedisTokenStoreTest, CursorFromBeforeARestartIsReset) {
  auto server = tests::support::RedisServer::Start();
  LoopAndClient redis(server->Port());
  RedisTokenStore tokens(redis.client, platform::core::SystemClock::Instance(), {});
  const auto& clock = platform::core::SystemClock::Instance();
  const auto revoke = [&](const std::string& sid) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto r = redis.Run(
          tokens.Revoke(sid, clock.Now() + std::chrono::minutes(5), Deadline(milliseconds(500))));
      if (r) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "revoke " << sid << " never succeeded";
  };
  const auto since = [&](const std::string& cursor) {
    auto page = redis.Run(tokens.RevokedSince(cursor, Deadline(milliseconds(500))));
    EXPECT_TRUE(page.has_value()) << page.error().internal;
    return page ? *page : RevocationPage{};
  };
  revoke("sid-1");
  const RevocationPage before = since("");
  ASSERT_EQ(before.revoked.size(), 1u);

  server->Restart();  // empty again
  // As many revocations as the old history had and more: numbers from 1 would pass the old
  // cursor and hide sid-2 from it.
  revoke("sid-2");
  revoke("sid-3");
  const RevocationPage stale = since(before.cursor);
  EXPECT_TRUE(stale.reset);
  const RevocationPage fresh = since("");
  EXPECT_FALSE(fresh.reset);
  ASSERT_EQ(fresh.revoked.size(), 2u);
  EXPECT_EQ(fresh.revoked[0].session_id, "sid-2");
  EXPECT_EQ(fresh.revoked[1].session_id, "sid-3");
}

TEST(RedisTokenStoreTest, ExpiredEntriesLeaveRedis) {
  auto& server = SharedServer();
  server.Cli("FLUSHALL");
  LoopAndClient redis(server.Port());
  RedisTokenStoreSettings settings;
  settings.key_prefix = "rev:";
  RedisTokenStore tokens(redis.client, platform::core::SystemClock::Instance(), settings);
  const auto now = platform::core::SystemClock::Instance().Now();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(redis
                    .Run(tokens.Revoke("short-" + std::to_string(i), now + milliseconds(100),
                                       Deadline(milliseconds(500))))
                    .has_value());
  }
  ASSERT_TRUE(
      redis.Run(tokens.Revoke("long", now + std::chrono::minutes(5), Deadline(milliseconds(500))))
          .has_value());
  EXPECT_EQ(server.Cli("ZCARD", "rev:log"), "11");
  std::this_thread::sleep_for(milliseconds(200));
  auto page = redis.Run(tokens.RevokedSince("", Deadline(milliseconds(500))));
  ASSERT_TRUE(page.has_value()) << page.error().internal;
  ASSERT_EQ(page->revoked.size(), 1u);
  EXPECT_EQ(server.Cli("ZCARD", "rev:log"), "1");
  EXPECT_EQ(server.Cli("ZCARD", "rev:exp"), "1");
}

}  // namespace
}  // namespace trellis::adapters::redis
