#include "adapters/sqlite/sqlite_event_log.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "tests/contract/sql_store_contract.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::adapters::sqlite {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using platform::core::Role;
using platform::events::DomainEvent;
using tests::contract::RunSync;
using tests::support::TempDir;

DomainEvent Event(std::string id, std::string org, Role audience = Role::kViewer) {
  DomainEvent e;
  e.id = std::move(id);
  e.type = "work.task.created";
  e.org_id = std::move(org);
  e.actor_id = "user-1";
  e.subject_id = "task-1";
  e.payload = R"({"title":"t"})";
  e.occurred_at_ms = 1'795'000'000'000;
  e.audience = audience;
  return e;
}

class SqliteEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    EventLogSettings settings;
    settings.path = dir_.Path() / "events.db";
    auto opened = RunSync(SqliteEventLog::Open(settings, clock_, registry_));
    ASSERT_TRUE(opened) << opened.error().internal;
    log_ = std::move(*opened);
  }
  void Append(std::vector<DomainEvent> events) {
    auto r = RunSync(log_->Append(std::move(events)));
    ASSERT_TRUE(r) << r.error().internal;
  }
  std::vector<DomainEvent> Read(std::int64_t after, std::size_t limit,
                                std::optional<std::string> org = std::nullopt) {
    auto r = RunSync(log_->Read(after, limit, std::move(org)));
    EXPECT_TRUE(r) << r.error().internal;
    return r ? *r : std::vector<DomainEvent>{};
  }

  TempDir dir_;
  platform::core::ManualClock clock_;
  platform::observe::Registry registry_;
  std::unique_ptr<SqliteEventLog> log_;
};

TEST_F(SqliteEventLogTest, AppendAssignsOffsetsInAppendOrder) {
  EXPECT_EQ(log_->LastOffset(), 0);
  Append({Event("e1", "org-a"), Event("e2", "org-b")});
  Append({Event("e3", "org-a", Role::kAdmin)});
  EXPECT_EQ(log_->LastOffset(), 3);

  auto all = Read(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, "e1");
  EXPECT_EQ(all[0].offset, 1);
  EXPECT_EQ(all[1].id, "e2");
  EXPECT_EQ(all[1].offset, 2);
  EXPECT_EQ(all[2].id, "e3");
  EXPECT_EQ(all[2].offset, 3);
  EXPECT_EQ(all[2].audience, Role::kAdmin);
  EXPECT_EQ(all[0].payload, R"({"title":"t"})");
  EXPECT_EQ(all[0].occurred_at_ms, 1'795'000'000'000);

  auto page = Read(1, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, "e2");
}

TEST_F(SqliteEventLogTest, ReAppendAddsNothing) {
  Append({Event("e1", "org-a"), Event("e2", "org-a")});
  Append({Event("e1", "org-a"), Event("e2", "org-a"), Event("e3", "org-a")});
  auto all = Read(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].id, "e3");
  EXPECT_EQ(log_->LastOffset(), 3);
}

TEST_F(SqliteEventLogTest, ReadFiltersByOrg) {
  Append({Event("e1", "org-a"), Event("e2", "org-b"), Event("e3", "org-a")});
  auto a = Read(0, 10, "org-a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].offset, 1);
  EXPECT_EQ(a[1].offset, 3);
  EXPECT_TRUE(Read(3, 10, "org-a").empty());
  EXPECT_EQ(Read(0, 10, "org-b").size(), 1u);
}

TEST_F(SqliteEventLogTest, CommittedOffsetsPerGroupOnlyMoveForward) {
  auto fresh = RunSync(log_->CommittedOffset("audit"));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(*fresh, 0);
  ASSERT_TRUE(RunSync(log_->CommitOffset("audit", 5)));
  ASSERT_TRUE(RunSync(log_->CommitOffset("audit", 3)));  // stale: ignored
  ASSERT_TRUE(RunSync(log_->CommitOffset("live", 2)));
  EXPECT_EQ(*RunSync(log_->CommittedOffset("audit")), 5);
  EXPECT_EQ(*RunSync(log_->CommittedOffset("live")), 2);
}

TEST_F(SqliteEventLogTest, OffsetsSurviveReopen) {
  Append({Event("e1", "org-a"), Event("e2", "org-a")});
  ASSERT_TRUE(RunSync(log_->CommitOffset("audit", 2)));
  Reopen();
  EXPECT_EQ(log_->LastOffset(), 2);
  EXPECT_EQ(*RunSync(log_->CommittedOffset("audit")), 2);
  Append({Event("e2", "org-a"), Event("e3", "org-a")});
  auto tail = Read(2, 10);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].id, "e3");
  EXPECT_EQ(tail[0].offset, 3);
}

TEST_F(SqliteEventLogTest, WaitForAppendWakesOnAppendAndTimesOutOtherwise) {
  asio::io_context ctx;
  std::int64_t woke_with = -1;
  std::chrono::steady_clock::duration waited{};
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        woke_with = co_await log_->WaitForAppend(0, 10s);
        waited = std::chrono::steady_clock::now() - start;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        co_await t.async_wait(asio::use_awaitable);
        std::vector<DomainEvent> batch{Event("e1", "org-a")};
        auto r = co_await log_->Append(std::move(batch));
        EXPECT_TRUE(r);
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ctx.run();
  EXPECT_EQ(woke_with, 1);
  EXPECT_LT(waited, 5s);

  // Already past: returns at once; nothing new: returns after the timeout.
  EXPECT_EQ(RunSync(log_->WaitForAppend(0, 10s)), 1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RunSync(log_->WaitForAppend(1, 30ms)), 1);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 25ms);
}

}  // namespace
}  // namespace trellis::adapters::sqlite
