// RedisLocks against a real redis-server: the lock service contract suite, fencing tokens that
// survive an expired lease and a server restarted empty, and the fencing drill — a holder
// paused past its lease has its late write refused by CheckFence on a real SQLite store.
#include "adapters/redis/redis_locks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "adapters/redis/redis_ports_test_util.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/ports/sql_store.hpp"
#include "platform/store/fencing.hpp"
#include "tests/contract/lock_service_contract.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::core::ErrorCode;
using platform::ports::Awaitable;
using platform::ports::Lease;
using platform::ports::RunSync;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::HopLocks;
using testing::LoopAndClient;
using testing::SharedServer;
using tests::contract::LockServiceAdapter;
using tests::contract::LockServiceContract;
using tests::contract::LockServiceHarness;

class RedisLocksHarness final : public LockServiceHarness {
 public:
  RedisLocksHarness() { SharedServer().Cli("FLUSHALL"); }
  // LockServiceHarness
  platform::ports::LockService& Locks() override { return hop_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  LoopAndClient redis_{SharedServer().Port()};
  RedisLocks locks_{redis_.client, platform::core::SystemClock::Instance(), RedisLocksSettings{}};
  HopLocks hop_{locks_, redis_.Io()};
};

INSTANTIATE_TEST_SUITE_P(Redis, LockServiceContract,
                         ::testing::Values(LockServiceAdapter{
                             "redis", [] { return std::make_unique<RedisLocksHarness>(); }}),
                         tests::contract::LockServiceAdapterName);

std::int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RedisLocksTest : public ::testing::Test {
 protected:
  RedisLocksTest()
      : server_(tests::support::RedisServer::Start()),
        redis_(std::make_unique<LoopAndClient>(server_->Port())),
        locks_(redis_->client, platform::core::SystemClock::Instance(), RedisLocksSettings{}) {}
  ~RedisLocksTest() override { redis_->loops.Stop(); }

  std::optional<Lease> Take(const std::string& name, const std::string& owner, milliseconds ttl) {
    // A restarted server refuses the first call on the old connection: retry briefly.
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto lease = redis_->Run(locks_.Acquire(name, owner, ttl, Deadline(milliseconds(500))));
      if (lease) return *lease;
      std::this_thread::sleep_for(milliseconds(50));
    }
    ADD_FAILURE() << "no answer from the lock service";
    return std::nullopt;
  }

  std::unique_ptr<tests::support::RedisServer> server_;
  std::unique_ptr<LoopAndClient> redis_;
  RedisLocks locks_;
};

TEST_F(RedisLocksTest, TokensAreFlooredAtTheServersWallClockMicroseconds) {
  const std::int64_t before = WallUs();
  auto lease = Take("relay", "node-a", milliseconds(1000));
  ASSERT_TRUE(lease.has_value());
  EXPECT_GE(lease->fencing_token, before);
  EXPECT_LE(lease->fencing_token, WallUs());
  EXPECT_EQ(server_->Cli("HGET", "trellis:lock:relay", "owner"), "node-a");
  EXPECT_EQ(server_->Cli("GET", "trellis:lock:relay:fence"), std::to_string(lease->fencing_token));
}

TEST_F(RedisLocksTest, TokensGoOnFromACounterAheadOfTheClock) {
  auto first = Take("relay", "node-a", milliseconds(10'000));
  ASSERT_TRUE(first.has_value());
  // A counter a minute ahead of the clock (as after a clock step back): it goes on from there.
  server_->Cli("SET", "trellis:lock:relay:fence",
               std::to_string(first->fencing_token + 60'000'000));
  auto second = Take("relay", "node-a", milliseconds(10'000));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->fencing_token, first->fencing_token + 60'000'001);
}

TEST_F(RedisLocksTest, TokensNeverGoBackwardsWhenTheServerRestartsEmpty) {
  auto first = Take("relay", "node-a", milliseconds(10'000));
  ASSERT_TRUE(first.has_value());
  server_->Restart();  // nothing saved: the lease and the counter are gone
  EXPECT_EQ(server_->Cli("EXISTS", "trellis:lock:relay:fence"), "0");
  auto second = Take("relay", "node-b", milliseconds(10'000));
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->fencing_token, first->fencing_token);
}

// The fencing drill: A holds the lease and is paused past it (it neither renews nor writes for
// longer than the TTL); B takes the lease and writes; A wakes up and writes with its old token.
// The SQL store's fence refuses A and keeps B's write.
TEST_F(RedisLocksTest, HolderPausedPastItsLeaseHasItsLateWriteRefused) {
  auto db = tests::support::EngineStore::Open(tests::support::SqlEngine::kSqlite,
                                              tests::support::SqlContext::kWork);
  const auto fenced_write = [&](std::int64_t token, const std::string& event_id) {
    return RunSync(db->Store().Transact(
        TransactionOptions().Org("org-a"), [&](SqlTransaction& tx) -> Awaitable<void> {
          if (auto f = co_await platform::store::CheckFence(tx, "outbox-relay", token); !f) {
            co_return f;
          }
          platform::ports::SqlParams row{event_id};
          auto inserted = co_await tx.Execute(
              "INSERT INTO outbox (event_id, type, org_id, actor_id, subject_id, payload, "
              "occurred_at_ms, audience) VALUES ($1, 'work.task.created', 'org-a', 'u', 's', "
              "'{}', 1, 'member')",
              std::move(row));
          co_return platform::ports::Void(inserted);
        }));
  };
  const auto rows = [&](const std::string& event_id) {
    std::int64_t n = -1;
    auto r = RunSync(db->Store().Transact(
        TransactionOptions().ReadOnly().Org("org-a"), [&](SqlTransaction& tx) -> Awaitable<void> {
          platform::ports::SqlParams by_id{event_id};
          auto got =
              co_await tx.Execute("SELECT count(*) AS n FROM outbox WHERE event_id = $1", by_id);
          if (!got) co_return std::unexpected(got.error());
          auto v = got->rows.at(0).Get<std::int64_t>("n");
          if (!v) co_return std::unexpected(v.error());
          n = *v;
          co_return platform::core::Result<void>();
        }));
    EXPECT_TRUE(r.has_value()) << r.error().internal;
    return n;
  };

  const milliseconds ttl(300);
  auto a = Take("outbox-relay", "node-a", ttl);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(fenced_write(a->fencing_token, "ev-a-1").has_value());
  // B cannot take it while A's lease lasts.
  EXPECT_FALSE(Take("outbox-relay", "node-b", ttl).has_value());

  std::this_thread::sleep_for(ttl + milliseconds(200));  // A is "frozen" past its lease
  auto b = Take("outbox-relay", "node-b", milliseconds(10'000));
  ASSERT_TRUE(b.has_value());
  EXPECT_GT(b->fencing_token, a->fencing_token);
  ASSERT_TRUE(fenced_write(b->fencing_token, "ev-b-1").has_value());

  // A wakes up: its renew says the lease is lost, and its late write is refused.
  auto renewed = redis_->Run(locks_.Renew(*a, ttl, Deadline(milliseconds(500))));
  ASSERT_TRUE(renewed.has_value()) << renewed.error().internal;
  EXPECT_FALSE(*renewed);
  auto late = fenced_write(a->fencing_token, "ev-a-late");
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(platform::store::IsStaleFence(late.error()));
  EXPECT_EQ(rows("ev-a-late"), 0);
  EXPECT_EQ(rows("ev-b-1"), 1);
  EXPECT_EQ(rows("ev-a-1"), 1);
  // B keeps writing under its lease.
  EXPECT_TRUE(fenced_write(b->fencing_token, "ev-b-2").has_value());
}

}  // namespace
}  // namespace trellis::adapters::redis
