#include "platform/events/relay.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_event_log.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/events/outbox.hpp"
#include "platform/events/testing/event_test_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using adapters::sqlite::SqliteEventLog;
using adapters::sqlite::SqliteStore;
using testing::Eventually;
using testing::RunSync;
using tests::support::TempDir;

DomainEvent Event(std::string id, std::string org) {
  DomainEvent e;
  e.id = std::move(id);
  e.type = "work.task.created";
  e.org_id = std::move(org);
  e.actor_id = "user-1";
  e.subject_id = "task-1";
  e.payload = "{}";
  e.occurred_at_ms = 1'700'000'000'000;
  e.audience = core::Role::kMember;
  return e;
}

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"identity", "work"}) {
      adapters::sqlite::Settings s;
      s.path = dir_.Path() / (std::string(name) + ".db");
      s.name = name;
      auto store = SqliteStore::Open(s, clock_, registry_);
      ASSERT_TRUE(store);
      auto created = RunSync((*store)->Transact(
          ports::TransactionOptions(), [](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
            co_return co_await tx.ExecuteScript(testing::kOutboxDdl);
          }));
      ASSERT_TRUE(created) << created.error().internal;
      stores_.push_back(std::move(*store));
    }
    adapters::sqlite::EventLogSettings ls;
    ls.path = dir_.Path() / "events.db";
    auto log = RunSync(SqliteEventLog::Open(ls, clock_, registry_));
    ASSERT_TRUE(log) << log.error().internal;
    log_ = std::move(*log);
  }

  void Write(std::size_t store, std::vector<DomainEvent> events) {
    auto r = RunSync(
        stores_[store]->Transact(ports::TransactionOptions(),
                                 [&events](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                   for (const auto& e : events) {
                                     if (auto a = co_await AppendToOutbox(tx, e); !a) co_return a;
                                   }
                                   co_return core::Result<void>();
                                 }));
    ASSERT_TRUE(r) << r.error().internal;
  }
  std::int64_t OutboxRows(std::size_t store) {
    std::int64_t n = -1;
    auto r = RunSync(stores_[store]->Transact(
        ports::TransactionOptions().ReadOnly(),
        [&n](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto rows = co_await tx.Execute("SELECT count(*) AS n FROM outbox");
          if (!rows) co_return std::unexpected(rows.error());
          n = *rows->rows[0].Get<std::int64_t>("n");
          co_return core::Result<void>();
        }));
    EXPECT_TRUE(r);
    return n;
  }
  std::vector<std::string> LoggedIds() {
    auto events = RunSync(log_->Read(0, 1000, std::nullopt));
    EXPECT_TRUE(events);
    std::vector<std::string> ids;
    for (const auto& e : *events) ids.push_back(e.id);
    return ids;
  }
  std::unique_ptr<OutboxRelay> MakeRelay(RelaySettings settings = {}) {
    return std::make_unique<OutboxRelay>(
        std::vector<RelaySource>{{"identity", stores_[0].get()}, {"work", stores_[1].get()}}, *log_,
        clock_, registry_, settings);
  }

  TempDir dir_;
  core::ManualClock clock_;
  observe::Registry registry_;
  std::vector<std::unique_ptr<SqliteStore>> stores_;
  std::unique_ptr<SqliteEventLog> log_;
};

TEST_F(RelayTest, MovesOutboxRowsInSeqOrderThenDeletesThem) {
  Write(0, {Event("i1", "org-a"), Event("i2", "org-a")});
  Write(1, {Event("w1", "org-b")});
  Write(0, {Event("i3", "org-a")});
  auto relay = MakeRelay();
  auto moved = RunSync(relay->RelayOnce());
  ASSERT_TRUE(moved) << moved.error().internal;
  EXPECT_EQ(*moved, 4u);
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"i1", "i2", "i3", "w1"}));
  EXPECT_EQ(OutboxRows(0), 0);
  EXPECT_EQ(OutboxRows(1), 0);
  EXPECT_NE(registry_.Render().find("trellis_outbox_relayed_total{context=\"identity\"} 3"),
            std::string::npos);

  // Nothing left: a second round moves nothing.
  EXPECT_EQ(*RunSync(relay->RelayOnce()), 0u);
}

TEST_F(RelayTest, BatchesLargeOutboxesWithoutLosingOrder) {
  std::vector<DomainEvent> many;
  for (int i = 0; i < 25; ++i) many.push_back(Event("e" + std::to_string(100 + i), "org-a"));
  Write(1, many);
  RelaySettings settings;
  settings.batch_size = 10;
  auto relay = MakeRelay(settings);
  EXPECT_EQ(*RunSync(relay->RelayOnce()), 25u);
  auto ids = LoggedIds();
  ASSERT_EQ(ids.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(ids[static_cast<std::size_t>(i)], many[static_cast<std::size_t>(i)].id);
}

TEST_F(RelayTest, ReRelayAfterACrashBetweenAppendAndDeleteAddsNothing) {
  Write(1, {Event("w1", "org-a"), Event("w2", "org-a")});
  // The crash: the log got the events, the outbox rows were never deleted.
  ASSERT_TRUE(RunSync(log_->Append({Event("w1", "org-a"), Event("w2", "org-a")})));
  auto relay = MakeRelay();
  ASSERT_TRUE(RunSync(relay->RelayOnce()));
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(log_->LastOffset(), 2);
  EXPECT_EQ(OutboxRows(1), 0);
}

TEST_F(RelayTest, AFailingContextDoesNotHoldBackTheOthers) {
  adapters::sqlite::Settings s;
  s.path = dir_.Path() / "broken.db";  // no outbox table: every read fails
  auto broken = SqliteStore::Open(s, clock_, registry_);
  ASSERT_TRUE(broken);
  Write(1, {Event("w1", "org-a")});
  OutboxRelay relay({{"broken", broken->get()}, {"work", stores_[1].get()}}, *log_, clock_,
                    registry_);
  auto moved = RunSync(relay.RelayOnce());
  EXPECT_FALSE(moved);
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"w1"}));
  EXPECT_EQ(OutboxRows(1), 0);
  EXPECT_NE(registry_.Render().find("trellis_outbox_relay_errors_total{context=\"broken\"} 1"),
            std::string::npos);
}

TEST_F(RelayTest, RunRelaysWhenNotifiedAndStops) {
  RelaySettings settings;
  settings.poll_interval = 60s;  // only Notify can explain a prompt relay
  auto relay = MakeRelay(settings);
  asio::io_context ctx;
  bool returned = false;
  asio::co_spawn(ctx, relay->Run(), [&](std::exception_ptr) { returned = true; });
  std::thread loop([&] { ctx.run(); });

  ASSERT_TRUE(Eventually([&] { return OutboxRows(0) == 0; }));  // first round done
  Write(0, {Event("i1", "org-a")});
  relay->Notify();
  EXPECT_TRUE(Eventually([&] { return log_->LastOffset() == 1; }, 3s));
  // The relay appends first and deletes after: the row goes a moment after the append.
  EXPECT_TRUE(Eventually([&] { return OutboxRows(0) == 0; }, 3s));

  relay->Stop();
  loop.join();
  EXPECT_TRUE(returned);
}

}  // namespace
}  // namespace trellis::platform::events
