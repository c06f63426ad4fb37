// The outbox relay's leadership (relay.hpp, docs/adr/0018): two relays over the same migrated
// identity and work databases (tests/support/sql_engines: SQLite files, or PostgreSQL as the
// context roles) and one event log, with one in-process lock service (MemoryLocks) on a
// ManualClock. Only the lease holder relays; it renews in time; it steps down when its renewal
// fails; and a leader frozen mid-batch past its lease has its late delete refused by the fence,
// with no event lost or logged twice (on SQLite although the deleted rows' seqs are reused
// meanwhile, so that the late delete would have removed events never relayed).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/memory/memory_locks.hpp"
#include "adapters/sqlite/sqlite_event_log.hpp"
#include "platform/events/outbox.hpp"
#include "platform/events/relay.hpp"
#include "platform/events/testing/event_test_support.hpp"
#include "platform/store/fencing.hpp"
#include "tests/support/sql_engines.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using adapters::memory::MemoryLocks;
using adapters::sqlite::SqliteEventLog;
using testing::RunSync;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;
using tests::support::TempDir;

// The relay's setting under which PostgreSQL's outbox policies show every org's rows.
constexpr const char* kRelaySetting = "trellis.outbox_relay";

constexpr auto kTtl = 10s;
constexpr auto kRenew = 3s;

DomainEvent Event(std::string id) {
  DomainEvent e;
  e.id = std::move(id);
  e.type = "work.task.created";
  e.org_id = "org-a";
  e.actor_id = "user-1";
  e.subject_id = "task-1";
  e.payload = "{}";
  e.occurred_at_ms = 1'700'000'000'000;
  e.audience = core::Role::kMember;
  return e;
}

// The event log, with Append held at a gate while `frozen` (the relay is "paused" there, after
// it has read its batch and before it deletes it).
class GatedLog final : public ports::EventLog {
 public:
  explicit GatedLog(ports::EventLog& inner) : inner_(inner) {}
  void Freeze(asio::io_context& ctx) { gate_.emplace(ctx, asio::steady_timer::time_point::max()); }
  void Thaw() { gate_->cancel(); }
  [[nodiscard]] bool Waiting() const { return waiting_; }

  // EventLog
  ports::LogAwaitable<void> Append(std::vector<DomainEvent> events) override {
    if (gate_) {
      waiting_ = true;
      boost::system::error_code ec;
      co_await gate_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      waiting_ = false;
      gate_.reset();
    }
    co_return co_await inner_.Append(std::move(events));
  }
  ports::LogAwaitable<std::vector<DomainEvent>> Read(std::int64_t after, std::size_t limit,
                                                     std::optional<std::string> org) override {
    return inner_.Read(after, limit, std::move(org));
  }
  ports::LogAwaitable<void> CommitOffset(std::string group, std::int64_t offset) override {
    return inner_.CommitOffset(std::move(group), offset);
  }
  ports::LogAwaitable<std::int64_t> CommittedOffset(std::string group) override {
    return inner_.CommittedOffset(std::move(group));
  }
  std::int64_t LastOffset() const override { return inner_.LastOffset(); }
  asio::awaitable<std::int64_t> WaitForAppend(std::int64_t after,
                                              std::chrono::milliseconds timeout) override {
    return inner_.WaitForAppend(after, timeout);
  }

 private:
  ports::EventLog& inner_;
  std::optional<asio::steady_timer> gate_;
  bool waiting_ = false;
};

class RelayLeadershipTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  void SetUp() override {
    for (auto context : {SqlContext::kIdentity, SqlContext::kWork}) {
      dbs_.push_back(EngineStore::Open(GetParam(), context));
      stores_.push_back(&dbs_.back()->Store());
    }
    adapters::sqlite::EventLogSettings ls;
    ls.path = dir_.Path() / "events.db";
    auto log = RunSync(SqliteEventLog::Open(ls, clock_, registry_));
    ASSERT_TRUE(log) << log.error().internal;
    log_ = std::move(*log);
    gated_ = std::make_unique<GatedLog>(*log_);
  }

  // A relay of process `owner`, with its own metrics; `log` defaults to the shared one.
  std::unique_ptr<OutboxRelay> MakeRelay(const std::string& owner, observe::Registry& metrics,
                                         ports::EventLog* log = nullptr) {
    RelaySettings settings;
    settings.batch_size = 10;
    settings.locks = &locks_;
    settings.lease_owner = owner;
    settings.lease_ttl = kTtl;
    settings.lease_renew_interval = kRenew;
    return std::make_unique<OutboxRelay>(
        std::vector<RelaySource>{{"identity", stores_[0]}, {"work", stores_[1]}},
        log != nullptr ? *log : *log_, clock_, metrics, settings);
  }

  void Write(std::size_t store, std::vector<DomainEvent> events) {
    auto r = RunSync(
        stores_[store]->Transact(ports::TransactionOptions().Org("org-a"),
                                 [&events](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                   for (const auto& e : events) {
                                     if (auto a = co_await AppendToOutbox(tx, e); !a) co_return a;
                                   }
                                   co_return core::Result<void>();
                                 }));
    ASSERT_TRUE(r) << r.error().internal;
  }
  // "seq:event_id" of the store's outbox rows, in seq order.
  std::vector<std::string> OutboxRowsWithSeq(std::size_t store) {
    std::vector<std::string> rows;
    auto r = RunSync(stores_[store]->Transact(
        ports::TransactionOptions().ReadOnly().Setting(kRelaySetting, "on"),
        [&rows](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto read = co_await ReadOutbox(tx, 1000);
          if (!read) co_return std::unexpected(read.error());
          for (const auto& entry : *read) {
            rows.push_back(std::to_string(entry.seq) + ":" + entry.event.id);
          }
          co_return core::Result<void>();
        }));
    EXPECT_TRUE(r);
    return rows;
  }
  // The event ids of the store's outbox rows, in seq order.
  std::vector<std::string> OutboxRows(std::size_t store) {
    std::vector<std::string> ids;
    for (const auto& row : OutboxRowsWithSeq(store)) ids.push_back(row.substr(row.find(':') + 1));
    return ids;
  }
  static void Resign(OutboxRelay& relay) {
    asio::io_context ctx;
    asio::co_spawn(ctx, relay.Resign(), asio::detached);
    ctx.run();
  }
  std::vector<std::string> LoggedIds() {
    auto events = RunSync(log_->Read(0, 1000, std::nullopt));
    EXPECT_TRUE(events);
    std::vector<std::string> ids;
    for (const auto& e : *events) ids.push_back(e.id);
    return ids;
  }

  TempDir dir_;
  core::ManualClock clock_;
  observe::Registry registry_;
  observe::Registry metrics_a_;
  observe::Registry metrics_b_;
  MemoryLocks locks_{clock_};
  std::vector<std::unique_ptr<EngineStore>> dbs_;
  std::vector<ports::SqlStore*> stores_;
  std::unique_ptr<SqliteEventLog> log_;
  std::unique_ptr<GatedLog> gated_;
};

TEST_P(RelayLeadershipTest, OnlyTheLeaseHolderRelays) {
  auto a = MakeRelay("node-a", metrics_a_);
  auto b = MakeRelay("node-b", metrics_b_);
  Write(1, {Event("w1"), Event("w2")});
  Write(0, {Event("i1")});
  EXPECT_EQ(*RunSync(a->RelayOnce()), 3u);
  EXPECT_TRUE(a->Leading());
  EXPECT_GT(a->FencingToken(), 0);

  Write(1, {Event("w3")});
  // The follower leaves the rows alone, whenever it is woken.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*RunSync(b->RelayOnce()), 0u);
    clock_.Advance(1s);
  }
  EXPECT_FALSE(b->Leading());
  EXPECT_EQ(OutboxRows(1), (std::vector<std::string>{"w3"}));
  EXPECT_EQ(*RunSync(a->RelayOnce()), 1u);
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"i1", "w1", "w2", "w3"}));
  EXPECT_NE(metrics_a_.Render().find("trellis_outbox_relay_leader{lease=\"outbox-relay\"} 1"),
            std::string::npos)
      << metrics_a_.Render();
  EXPECT_NE(metrics_b_.Render().find("trellis_outbox_relay_leader{lease=\"outbox-relay\"} 0"),
            std::string::npos);
  // The leader's deletes recorded its token in both databases.
  for (auto* store : stores_) {
    std::int64_t recorded = 0;
    ASSERT_TRUE(RunSync(
        store->Transact(ports::TransactionOptions().ReadOnly(),
                        [&recorded](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                          auto rows = co_await tx.Execute("SELECT token FROM fencing_tokens");
                          if (!rows) co_return std::unexpected(rows.error());
                          recorded = *rows->rows.at(0).Get<std::int64_t>("token");
                          co_return core::Result<void>();
                        })));
    EXPECT_EQ(recorded, a->FencingToken());
  }
}

TEST_P(RelayLeadershipTest, TheLeaderRenewsInTimeAndKeepsItsToken) {
  auto a = MakeRelay("node-a", metrics_a_);
  auto b = MakeRelay("node-b", metrics_b_);
  ASSERT_TRUE(RunSync(a->RelayOnce()));
  const auto token = a->FencingToken();
  // Four lease lengths, the leader looking in at every renewal interval.
  for (int i = 0; i < 14; ++i) {
    clock_.Advance(kRenew);
    ASSERT_TRUE(RunSync(a->RelayOnce()));
    ASSERT_TRUE(RunSync(b->RelayOnce()));
    ASSERT_TRUE(a->Leading()) << "round " << i;
    ASSERT_FALSE(b->Leading()) << "round " << i;
  }
  EXPECT_EQ(a->FencingToken(), token);
  Write(1, {Event("w1")});
  EXPECT_EQ(*RunSync(b->RelayOnce()), 0u);
  EXPECT_EQ(*RunSync(a->RelayOnce()), 1u);
}

TEST_P(RelayLeadershipTest, ALeaderThatMissedItsRenewalStepsDownAndTheOtherTakesOver) {
  auto a = MakeRelay("node-a", metrics_a_);
  auto b = MakeRelay("node-b", metrics_b_);
  ASSERT_TRUE(RunSync(a->RelayOnce()));
  ASSERT_TRUE(a->Leading());
  // a is away for longer than its lease; b takes the lapsed lease with a higher token.
  clock_.Advance(kTtl + 1s);
  Write(1, {Event("w1")});
  EXPECT_EQ(*RunSync(b->RelayOnce()), 1u);
  EXPECT_TRUE(b->Leading());
  EXPECT_GT(b->FencingToken(), a->FencingToken());
  // a's renewal fails: it steps down and moves nothing.
  Write(1, {Event("w2")});
  EXPECT_EQ(*RunSync(a->RelayOnce()), 0u);
  EXPECT_FALSE(a->Leading());
  EXPECT_EQ(OutboxRows(1).size(), 1u);
  EXPECT_EQ(*RunSync(b->RelayOnce()), 1u);
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"w1", "w2"}));
  // Resigning frees the lease at once: a takes it without waiting out the ttl.
  Resign(*b);
  EXPECT_FALSE(b->Leading());
  clock_.Advance(kRenew);  // a's retry interval after its last failed attempt
  Write(1, {Event("w3")});
  EXPECT_EQ(*RunSync(a->RelayOnce()), 1u);
  EXPECT_TRUE(a->Leading());
}

// The fencing test: a lock holder frozen past its lease has its late write refused.
TEST_P(RelayLeadershipTest, AFrozenLeadersLateDeleteIsRefusedAndNoEventIsLostOrDoubled) {
  auto a = MakeRelay("node-a", metrics_a_, gated_.get());
  auto b = MakeRelay("node-b", metrics_b_);
  Write(1, {Event("w1"), Event("w2")});
  const auto first_seqs = OutboxRowsWithSeq(1);
  ASSERT_EQ(OutboxRows(1), (std::vector<std::string>{"w1", "w2"}));

  // a leads, reads w1 and w2 (seqs 1, 2), and freezes before it appends and deletes them.
  asio::io_context ctx;
  gated_->Freeze(ctx);
  std::optional<core::Result<std::size_t>> a_round;
  asio::co_spawn(
      ctx,
      [](OutboxRelay* relay, std::optional<core::Result<std::size_t>>* out)
          -> asio::awaitable<void> { *out = co_await relay->RelayOnce(); }(a.get(), &a_round),
      asio::detached);
  ASSERT_TRUE(testing::Eventually([&] {
    ctx.poll();
    return gated_->Waiting();
  }));
  ASSERT_TRUE(a->Leading());
  const auto a_token = a->FencingToken();

  // Its lease runs out; b takes over with a higher token, relays w1 and w2 and deletes them.
  clock_.Advance(kTtl + 1s);
  EXPECT_EQ(*RunSync(b->RelayOnce()), 2u);
  ASSERT_GT(b->FencingToken(), a_token);
  // New events land in the emptied outbox. SQLite hands out the same seqs again: the very rows
  // a's frozen batch would delete (PostgreSQL's identity column never reuses one).
  Write(1, {Event("w3"), Event("w4")});
  ASSERT_EQ(OutboxRows(1), (std::vector<std::string>{"w3", "w4"}));
  if (GetParam() == SqlEngine::kSqlite) {
    ASSERT_EQ(OutboxRowsWithSeq(1),
              (std::vector<std::string>{first_seqs[0].substr(0, first_seqs[0].find(':')) + ":w3",
                                        first_seqs[1].substr(0, first_seqs[1].find(':')) + ":w4"}));
  }

  // a wakes up: its append of w1, w2 adds nothing, its delete of seqs 1, 2 is fenced off.
  gated_->Thaw();
  ctx.run();
  ASSERT_TRUE(a_round.has_value());
  ASSERT_FALSE(*a_round) << "the frozen leader's late delete went through";
  EXPECT_TRUE(store::IsStaleFence(a_round->error())) << a_round->error().message;
  EXPECT_FALSE(a->Leading());
  EXPECT_NE(metrics_a_.Render().find("trellis_outbox_relay_fenced_total{lease=\"outbox-relay\"} 1"),
            std::string::npos)
      << metrics_a_.Render();
  EXPECT_EQ(OutboxRows(1), (std::vector<std::string>{"w3", "w4"}));

  // b relays the rest: every event once, in order.
  EXPECT_EQ(*RunSync(b->RelayOnce()), 2u);
  EXPECT_EQ(LoggedIds(), (std::vector<std::string>{"w1", "w2", "w3", "w4"}));
  EXPECT_TRUE(OutboxRows(1).empty());
  // And a stays a follower while b holds the lease.
  EXPECT_EQ(*RunSync(a->RelayOnce()), 0u);
  EXPECT_FALSE(a->Leading());
}

// Run/Stop with a lock service: the relay works, and on return gives the lease up.
TEST_P(RelayLeadershipTest, RunRelaysAsLeaderAndReleasesTheLeaseOnStop) {
  auto a = MakeRelay("node-a", metrics_a_);
  Write(1, {Event("w1")});
  asio::io_context ctx;
  bool returned = false;
  asio::co_spawn(
      ctx,
      [](OutboxRelay* relay, bool* done) -> asio::awaitable<void> {
        co_await relay->Run();
        *done = true;
      }(a.get(), &returned),
      asio::detached);
  ASSERT_TRUE(testing::Eventually([&] {
    ctx.poll();
    return LoggedIds().size() == 1;
  }));
  EXPECT_TRUE(a->Leading());
  EXPECT_EQ(locks_.Held(), 1u);
  a->Stop();
  ASSERT_TRUE(testing::Eventually([&] {
    ctx.poll();
    return returned;
  }));
  EXPECT_FALSE(a->Leading());
  EXPECT_EQ(locks_.Held(), 0u);
}

INSTANTIATE_TEST_SUITE_P(, RelayLeadershipTest, tests::support::AllSqlEngines(),
                         tests::support::SqlEngineName);

}  // namespace
}  // namespace trellis::platform::events
