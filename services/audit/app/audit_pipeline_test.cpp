// The whole path an audit entry takes: a context commits an event to its outbox, the relay
// moves it to the event log, the "audit" consumer group projects it, the API reads it. Run
// through EventsRuntime exactly as the composition root wires it.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "adapters/sqlite/sqlite_event_log.hpp"
#include "platform/events/outbox.hpp"
#include "platform/events/runtime.hpp"
#include "services/audit/app/audit_app.hpp"
#include "services/audit/testing/audit_test_support.hpp"

namespace trellis::audit::app {
namespace {

namespace asio = boost::asio;
namespace ports = platform::ports;
using namespace std::chrono_literals;
using platform::core::Role;
using testing::MakeEvent;
using testing::RunSync;

TEST(AuditPipelineTest, AnOutboxEventReachesTheAuditApiOnce) {
  tests::support::TempDir dir;
  platform::core::ManualClock clock;
  platform::observe::Registry registry;

  adapters::sqlite::Settings ws;
  ws.path = dir.Path() / "work.db";
  ws.name = "work";
  auto work_db = adapters::sqlite::SqliteStore::Open(ws, clock, registry);
  ASSERT_TRUE(work_db);
  ASSERT_TRUE(RunSync((*work_db)->Transact(
      ports::TransactionOptions(), [](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        co_return co_await tx.ExecuteScript(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type "
            "TEXT NOT NULL, org_id TEXT NOT NULL, actor_id TEXT NOT NULL, subject_id TEXT NOT "
            "NULL, payload TEXT NOT NULL, occurred_at_ms INTEGER NOT NULL, audience TEXT NOT "
            "NULL)");
      })));

  adapters::sqlite::EventLogSettings ls;
  ls.path = dir.Path() / "events.db";
  auto log = RunSync(adapters::sqlite::SqliteEventLog::Open(ls, clock, registry));
  ASSERT_TRUE(log);

  testing::AuditDb audit_db;
  testing::FakeIdentity identity;
  identity.Add("org-a", "admin", Role::kAdmin);
  AuditApp audit(audit_db.Store(), identity);

  platform::events::EventsSettings settings;
  settings.relay.poll_interval = 50ms;
  settings.consumer.poll_interval = 50ms;
  platform::events::EventsRuntime runtime(std::move(*log), {{"work", work_db->get()}}, clock,
                                          registry, settings);
  runtime.AddConsumer(
      "audit", [&audit](const platform::events::DomainEvent& e) { return audit.Project(e); });
  asio::io_context ctx;
  auto guard = asio::make_work_guard(ctx);
  std::thread loop([&] { ctx.run(); });
  runtime.Start(ctx);

  auto event = MakeEvent("e1", "org-a", 0, "work.task.created", "u1", 1000);
  ASSERT_TRUE(RunSync((*work_db)->Transact(
      ports::TransactionOptions(), [&event](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        co_return co_await platform::events::AppendToOutbox(tx, event);
      })));
  runtime.Relay().Notify();

  platform::core::Principal admin;
  admin.user_id = "admin";
  std::size_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto page = RunSync(audit.ListAuditEvents(admin, {}, "org-a", AuditQuery{}));
    ASSERT_TRUE(page);
    seen = page->items.size();
    if (seen > 0) {
      EXPECT_EQ(page->items[0].id, "e1");
      EXPECT_EQ(page->items[0].seq, 1);  // the log offset
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(seen, 1u);

  // A redelivery (the group's offset rewound by a crash before its commit) adds nothing.
  auto again = RunSync(runtime.Log().Read(0, 10, std::nullopt));
  ASSERT_TRUE(again);
  ASSERT_TRUE(RunSync(audit.Project(again->at(0))));
  EXPECT_EQ(RunSync(audit.ListAuditEvents(admin, {}, "org-a", AuditQuery{}))->items.size(), 1u);

  runtime.Stop();
  runtime.Wait();
  guard.reset();
  loop.join();
}

}  // namespace
}  // namespace trellis::audit::app
