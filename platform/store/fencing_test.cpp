// CheckFence (fencing.hpp) on both engines (tests/support/sql_engines.hpp): a migrated SQLite
// file, and PostgreSQL as the context's app role. The first token of a name is recorded, equal
// and higher ones are accepted, a lower one fails its transaction so that nothing of it is
// written; on PostgreSQL a stale check that runs while the new holder's transaction is open
// waits for it and is then refused.
#include "platform/store/fencing.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/ports/run_sync.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::platform::store {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ports::Awaitable;
using ports::RunSync;
using ports::SqlTransaction;
using ports::TransactionOptions;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;

class FencingTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  FencingTest() : db_(EngineStore::Open(GetParam(), SqlContext::kWork)) {}

  // One transaction that checks `token` for `name`, after writing an outbox row with
  // `event_id` (so that a refused check shows the rollback).
  core::Result<void> FencedWrite(const std::string& name, std::int64_t token,
                                 const std::string& event_id) {
    return RunSync(db_->Store().Transact(
        TransactionOptions().Org("org-a"), [&](SqlTransaction& tx) -> Awaitable<void> {
          ports::SqlParams row{event_id};
          auto inserted = co_await tx.Execute(
              "INSERT INTO outbox (event_id, type, org_id, actor_id, subject_id, payload, "
              "occurred_at_ms, audience) VALUES ($1, 'work.task.created', 'org-a', 'u', 's', "
              "'{}', 1, 'member')",
              std::move(row));
          if (!inserted) co_return std::unexpected(inserted.error());
          co_return co_await CheckFence(tx, name, token);
        }));
  }
  std::optional<std::int64_t> Recorded(const std::string& name) {
    std::optional<std::int64_t> token;
    auto r = RunSync(db_->Store().Transact(
        TransactionOptions().ReadOnly(), [&](SqlTransaction& tx) -> Awaitable<void> {
          ports::SqlParams by_name{name};
          auto rows =
              co_await tx.Execute("SELECT token FROM fencing_tokens WHERE name = $1", by_name);
          if (!rows) co_return std::unexpected(rows.error());
          if (!rows->rows.empty()) {
            auto t = rows->rows[0].Get<std::int64_t>("token");
            if (!t) co_return std::unexpected(t.error());
            token = *t;
          }
          co_return core::Result<void>();
        }));
    EXPECT_TRUE(r) << r.error().internal;
    return token;
  }
  std::int64_t OutboxRows(const std::string& event_id) {
    std::int64_t n = -1;
    auto r = RunSync(db_->Store().Transact(
        TransactionOptions().ReadOnly().Org("org-a"), [&](SqlTransaction& tx) -> Awaitable<void> {
          ports::SqlParams by_id{event_id};
          auto rows =
              co_await tx.Execute("SELECT count(*) AS n FROM outbox WHERE event_id = $1", by_id);
          if (!rows) co_return std::unexpected(rows.error());
          auto count = rows->rows[0].Get<std::int64_t>("n");
          if (!count) co_return std::unexpected(count.error());
          n = *count;
          co_return core::Result<void>();
        }));
    EXPECT_TRUE(r) << r.error().internal;
    return n;
  }

  std::unique_ptr<EngineStore> db_;
};

TEST_P(FencingTest, FirstTokenIsRecordedAndEqualOrHigherOnesAreAccepted) {
  EXPECT_EQ(Recorded("outbox-relay"), std::nullopt);
  auto first = FencedWrite("outbox-relay", 5, "e1");
  ASSERT_TRUE(first) << first.error().internal;
  EXPECT_EQ(Recorded("outbox-relay"), 5);
  // The same holder writing again under the same lease.
  auto same = FencedWrite("outbox-relay", 5, "e2");
  ASSERT_TRUE(same) << same.error().internal;
  EXPECT_EQ(Recorded("outbox-relay"), 5);
  auto higher = FencedWrite("outbox-relay", 9, "e3");
  ASSERT_TRUE(higher) << higher.error().internal;
  EXPECT_EQ(Recorded("outbox-relay"), 9);
  EXPECT_EQ(OutboxRows("e1") + OutboxRows("e2") + OutboxRows("e3"), 3);
}

TEST_P(FencingTest, LowerTokenFailsItsTransactionAndNothingIsWritten) {
  ASSERT_TRUE(FencedWrite("outbox-relay", 7, "new-leader"));
  auto stale = FencedWrite("outbox-relay", 6, "old-leader");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, core::ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(IsStaleFence(stale.error())) << stale.error().message;
  EXPECT_NE(stale.error().internal.find("outbox-relay"), std::string::npos);
  // Rolled back: the row written before the check is gone and the token stays the higher one.
  EXPECT_EQ(OutboxRows("old-leader"), 0);
  EXPECT_EQ(OutboxRows("new-leader"), 1);
  EXPECT_EQ(Recorded("outbox-relay"), 7);
  // Other errors are not taken for a stale fence.
  EXPECT_FALSE(IsStaleFence(core::Error(core::ErrorCode::kFailedPrecondition, "other")));
}

TEST_P(FencingTest, NamesAreFencedApartAndNegativeTokensAreRefused) {
  ASSERT_TRUE(FencedWrite("outbox-relay", 40, "a"));
  auto other = FencedWrite("scheduler", 1, "b");
  EXPECT_TRUE(other) << other.error().internal;
  EXPECT_EQ(Recorded("scheduler"), 1);
  EXPECT_EQ(Recorded("outbox-relay"), 40);
  auto negative = FencedWrite("scheduler", -1, "c");
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(OutboxRows("c"), 0);
}

// PostgreSQL with two transactions at once: the new holder (token 2) has checked and not yet
// committed when the stale holder (token 1) checks. The stale check waits on the row lock, then
// sees the committed 2 and is refused; it is not let through by reading the old value.
TEST_P(FencingTest, StaleCheckWaitingOnTheNewHoldersOpenTransactionIsRefused) {
  if (!db_->IsPostgres()) GTEST_SKIP() << "SQLite has one writer at a time";
  ASSERT_TRUE(FencedWrite("outbox-relay", 1, "before"));
  asio::io_context ctx;
  bool new_committed = false;
  std::optional<core::Result<void>> stale;
  bool saw_waiter = false;
  auto new_holder = [&]() -> asio::awaitable<void> {
    auto r = co_await db_->Store().Transact(
        TransactionOptions(), [&](SqlTransaction& tx) -> Awaitable<void> {
          if (auto f = co_await CheckFence(tx, "outbox-relay", 2); !f) co_return f;
          // The stale holder starts now and must block on this transaction's row lock.
          // Parameters, not captures: the closure is gone before this coroutine ends.
          auto old_holder = [](ports::SqlStore* store,
                               std::optional<core::Result<void>>* out) -> asio::awaitable<void> {
            auto s = co_await store->Transact(
                TransactionOptions(), [](SqlTransaction& tx2) -> Awaitable<void> {
                  co_return co_await CheckFence(tx2, "outbox-relay", 1);
                });
            *out = std::move(s);
          };
          asio::co_spawn(ctx, old_holder(&db_->Store(), &stale), asio::detached);
          asio::steady_timer pause(ctx);
          for (int i = 0; i < 200 && !saw_waiter; ++i) {
            pause.expires_after(10ms);
            co_await pause.async_wait(asio::use_awaitable);
            // pg_stat_activity is snapshotted once per transaction (stats_fetch_consistency):
            // drop the snapshot so that each look sees the other session now.
            if (auto cleared = co_await tx.Execute("SELECT pg_stat_clear_snapshot()"); !cleared) {
              co_return std::unexpected(cleared.error());
            }
            auto waiting = co_await tx.Execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'");
            if (!waiting) co_return std::unexpected(waiting.error());
            saw_waiter = *waiting->rows[0].Get<std::int64_t>("n") > 0;
          }
          co_return core::Result<void>();
        });
    new_committed = r.has_value();
  };
  asio::co_spawn(ctx, new_holder(), asio::detached);
  ctx.run();
  EXPECT_TRUE(saw_waiter) << "the stale check did not wait on the row lock";
  EXPECT_TRUE(new_committed);
  ASSERT_TRUE(stale.has_value());
  ASSERT_FALSE(*stale);
  EXPECT_TRUE(IsStaleFence(stale->error())) << stale->error().message;
  EXPECT_EQ(Recorded("outbox-relay"), 2);
}

INSTANTIATE_TEST_SUITE_P(, FencingTest, tests::support::AllSqlEngines(),
                         tests::support::SqlEngineName);

}  // namespace
}  // namespace trellis::platform::store
