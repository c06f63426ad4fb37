// The failover drill on a real primary + streaming replica (tests/support/postgres_cluster):
// the primary crashes (SIGKILL); reads keep working from the replica, writes fail fast with
// kUnavailable within their deadline, Health() says degraded; the replica is promoted and,
// through the multi-host conninfo (target_session_attrs=read-write), writes resume on the
// same store without a restart. The figures it prints are the ones ADR 0014 quotes.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "adapters/postgres/pg_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/write_position.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/support/postgres_cluster.hpp"

namespace trellis::adapters::postgres {
namespace {

namespace asio = boost::asio;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::core::WritePosition;
using platform::ports::Awaitable;
using platform::ports::RunSync;
using platform::ports::SqlParams;
using platform::ports::SqlTransaction;
using platform::ports::TransactionBody;
using platform::ports::TransactionOptions;
using std::chrono::milliseconds;
using tests::support::PostgresCluster;
using Steady = std::chrono::steady_clock;

// The budget a request gives each write in the drill, and what "fast" may add to it.
constexpr milliseconds kWriteDeadline{500};
constexpr milliseconds kSlack{100};

long long Ms(Steady::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

bool WaitUntil(const std::function<bool()>& pred, milliseconds limit) {
  const auto end = Steady::now() + limit;
  while (!pred()) {
    if (Steady::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tests::support::PostgresClusterOptions options;
    options.replica = true;
    cluster_ = PostgresCluster::Start(options);
    db_ = cluster_->CreateDatabase();
    cluster_->Psql("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)", db_);
    cluster_->WaitForReplay();
    loop_ = std::thread([this] { ctx_.run(); });
  }
  void TearDown() override {
    store_.reset();
    guard_.reset();
    loop_.join();
    cluster_.reset();
  }

  void Open() {
    Settings s;
    s.name = "failover";
    const std::string user = PostgresCluster::kSuperuser;
    const std::string& password = cluster_->SuperuserPassword();
    // The primary's conninfo names both servers: libpq connects to whichever accepts writes.
    s.conninfo = cluster_->MultiHostConnectionString(user, password, db_);
    s.replica_conninfos = {cluster_->ConnectionString(user, password, db_, true)};
    s.max_connections = 4;
    s.connect_timeout = milliseconds(1000);
    s.backoff_base = milliseconds(25);
    s.backoff_cap = milliseconds(250);
    s.replica_check_interval = milliseconds(100);
    s.replica_check_timeout = milliseconds(500);
    auto store = PgStore::Open(std::move(s), ctx_.get_executor(),
                               platform::core::SystemClock::Instance(), registry_);
    ASSERT_TRUE(store.has_value()) << store.error().internal;
    store_ = std::move(*store);
    ASSERT_TRUE(
        WaitUntil([this] { return store_->Health().replicas_up == 1; }, milliseconds(5000)));
  }

  Result<void> Write(std::int64_t id, const std::shared_ptr<WritePosition>& position,
                     milliseconds budget) {
    auto options = TransactionOptions().Consistency(position).Deadline(Steady::now() + budget);
    TransactionBody body = [id](SqlTransaction& tx) -> Awaitable<void> {
      SqlParams params{id, "v" + std::to_string(id)};
      auto done = co_await tx.Execute("INSERT INTO t (id, v) VALUES ($1, $2)", std::move(params));
      if (!done) co_return std::unexpected(done.error());
      co_return Result<void>();
    };
    return RunSync(store_->Transact(std::move(options), std::move(body)));
  }

  struct Read {
    std::optional<std::string> value;
    bool on_replica = false;
  };
  Result<Read> ReadRow(std::int64_t id, std::shared_ptr<WritePosition> position) {
    auto out = std::make_shared<Read>();
    auto options = TransactionOptions().ReadOnly().Deadline(Steady::now() + kWriteDeadline);
    if (position) options.Consistency(std::move(position));
    TransactionBody body = [id, out](SqlTransaction& tx) -> Awaitable<void> {
      SqlParams params{id};
      auto rows = co_await tx.Execute(
          "SELECT (SELECT v FROM t WHERE id = $1) AS v, pg_is_in_recovery() AS standby",
          std::move(params));
      if (!rows) co_return std::unexpected(rows.error());
      const auto& row = rows->rows.at(0);
      out->on_replica = row.Get<std::int64_t>("standby").value_or(0) == 1;
      auto v = row.GetOptional<std::string>("v");
      if (v && *v) out->value = **v;
      co_return Result<void>();
    };
    auto r = RunSync(store_->Transact(std::move(options), std::move(body)));
    if (!r) return std::unexpected(r.error());
    return *out;
  }

  std::unique_ptr<PostgresCluster> cluster_;
  std::string db_;
  platform::observe::Registry registry_;
  asio::io_context ctx_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{
      asio::make_work_guard(ctx_)};
  std::thread loop_;
  std::unique_ptr<PgStore> store_;
};

TEST_F(FailoverTest, ReadsSurviveThePrimaryWritesFailFastAndResumeAfterPromotion) {
  Open();
  ASSERT_FALSE(HasFatalFailure());
  auto position = std::make_shared<WritePosition>();
  ASSERT_TRUE(Write(1, position, kWriteDeadline).has_value());
  cluster_->WaitForReplay();
  const std::uint64_t reached = position->Get();
  ASSERT_GT(reached, 0U);
  EXPECT_TRUE(store_->Health().ok);

  // The crash.
  cluster_->KillPrimary();
  const auto killed = Steady::now();
  ASSERT_TRUE(WaitUntil([this] { return store_->Health().degraded; }, milliseconds(5000)))
      << "Health() never reported degraded";
  const auto detected = Steady::now() - killed;
  EXPECT_FALSE(store_->Health().ok);
  EXPECT_EQ(store_->Health().replicas_up, 1U);

  // Reads keep working from the replica: without a position, and with one it has reached.
  auto plain = ReadRow(1, nullptr);
  ASSERT_TRUE(plain.has_value()) << plain.error().internal;
  EXPECT_EQ(plain->value, "v1");
  EXPECT_TRUE(plain->on_replica);
  auto tracked = ReadRow(1, position);
  ASSERT_TRUE(tracked.has_value()) << tracked.error().internal;
  EXPECT_EQ(tracked->value, "v1");
  EXPECT_TRUE(tracked->on_replica);
  // A position the replica has not reached: unavailable, never a stale answer.
  auto ahead = ReadRow(1, std::make_shared<WritePosition>(reached + (1ULL << 32)));
  ASSERT_FALSE(ahead.has_value());
  EXPECT_EQ(ahead.error().code, ErrorCode::kUnavailable);

  // Writes fail fast, within their deadline.
  Steady::duration slowest{};
  for (int i = 0; i < 20; ++i) {
    const auto began = Steady::now();
    auto wrote = Write(100 + i, position, kWriteDeadline);
    const auto took = Steady::now() - began;
    slowest = std::max(slowest, took);
    ASSERT_FALSE(wrote.has_value()) << "a write succeeded with the primary down";
    EXPECT_EQ(wrote.error().code, ErrorCode::kUnavailable) << wrote.error().internal;
    EXPECT_LT(took, kWriteDeadline + kSlack) << Ms(took) << " ms";
  }

  // Also when each write gets to try a connect (past the pool's back-off): libpq is refused by
  // the dead host and turned away by the read-only one, fast.
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(300));  // past backoff_cap
    const auto began = Steady::now();
    auto wrote = Write(200 + i, position, kWriteDeadline);
    const auto took = Steady::now() - began;
    slowest = std::max(slowest, took);
    ASSERT_FALSE(wrote.has_value());
    EXPECT_EQ(wrote.error().code, ErrorCode::kUnavailable) << wrote.error().internal;
    EXPECT_LT(took, kWriteDeadline + kSlack) << Ms(took) << " ms";
  }

  // Promotion: the same store finds the new primary through the multi-host conninfo.
  cluster_->PromoteReplica();
  const auto promoted = Steady::now();
  int attempts = 0;
  Result<void> resumed = std::unexpected(platform::core::Error{});
  while (Steady::now() - promoted < milliseconds(10'000)) {
    ++attempts;
    resumed = Write(1000 + attempts, position, kWriteDeadline);
    if (resumed) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto resume_took = Steady::now() - promoted;
  ASSERT_TRUE(resumed.has_value()) << resumed.error().internal;
  EXPECT_LT(resume_took, milliseconds(3000));
  EXPECT_GT(position->Get(), reached);
  ASSERT_TRUE(WaitUntil([this] { return store_->Health().ok; }, milliseconds(5000)))
      << "Health() did not recover after the promotion";
  EXPECT_FALSE(store_->Health().degraded);
  // Reads with the new position: the promoted server (listed as the replica) has it.
  auto after = ReadRow(1000 + attempts, position);
  ASSERT_TRUE(after.has_value()) << after.error().internal;
  EXPECT_EQ(after->value, "v" + std::to_string(1000 + attempts));

  std::cout << "failover drill: degraded detected after " << Ms(detected)
            << " ms; slowest failed write " << Ms(slowest) << " ms (deadline "
            << kWriteDeadline.count() << " ms); writes resumed " << Ms(resume_took)
            << " ms after the promotion returned (" << attempts << " attempts)\n";
}

}  // namespace
}  // namespace trellis::adapters::postgres
