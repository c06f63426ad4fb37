// PgStore with a streaming replica (tests/support/postgres_cluster): read-your-writes while the
// replica lags (replay paused), reads that do go to the replica once it has caught up, the
// routing rules for writes and for reads without a position, and a lagging replica leaving
// the rotation and coming back.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// One primary + replica for the binary; a fresh database per test.
PostgresCluster* g_cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    tests::support::PostgresClusterOptions options;
    options.replica = true;
    cluster_ = PostgresCluster::Start(options);
    g_cluster = cluster_.get();
  }
  void TearDown() override {
    g_cluster = nullptr;
    cluster_.reset();
  }

 private:
  std::unique_ptr<PostgresCluster> cluster_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

// The value of a series in the registry's text output; -1 when absent.
double MetricValue(const platform::observe::Registry& registry, const std::string& series) {
  std::istringstream lines(registry.Render());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

const std::string kDb = "engine=\"postgres\",db=\"rep\"";
const std::string kToReplica = "trellis_sql_reads_routed_total{" + kDb + ",target=\"replica\"}";
const std::string kToPrimary = "trellis_sql_reads_routed_total{" + kDb + ",target=\"primary\"}";
const std::string kFallbacks = "trellis_sql_ryw_fallbacks_total{" + kDb + "}";
const std::string kLagSeconds = "trellis_sql_replica_lag_seconds{" + kDb + ",replica=\"0\"}";
const std::string kLagBytes = "trellis_sql_replica_lag_bytes{" + kDb + ",replica=\"0\"}";
const std::string kPositionChecks = "trellis_sql_replica_position_checks_total{" + kDb + "}";
const std::string kReplicaUp = "trellis_sql_replica_up{" + kDb + ",replica=\"0\"}";

// Polls pred every 10 ms until it holds or `limit` passes.
bool WaitUntil(const std::function<bool()>& pred, milliseconds limit) {
  const auto end = Steady::now() + limit;
  while (!pred()) {
    if (Steady::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = g_cluster->CreateDatabase();
    g_cluster->Psql("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)", db_);
    g_cluster->WaitForReplay();
    loop_ = std::thread([this] { ctx_.run(); });
  }
  void TearDown() override {
    store_.reset();
    // The monitor ends at its next tick once the store is gone; then the loop runs dry.
    guard_.reset();
    loop_.join();
    // A test that failed half-way must not leave replay paused for the next one.
    g_cluster->ResumeReplay();
  }

  Settings SettingsFor() const {
    Settings s;
    s.name = "rep";
    const std::string user = PostgresCluster::kSuperuser;
    s.conninfo = g_cluster->ConnectionString(user, g_cluster->SuperuserPassword(), db_);
    s.replica_conninfos = {
        g_cluster->ConnectionString(user, g_cluster->SuperuserPassword(), db_, true)};
    s.max_connections = 4;
    return s;
  }
  PgStore& Open(Settings settings) {
    auto store = PgStore::Open(std::move(settings), ctx_.get_executor(),
                               platform::core::SystemClock::Instance(), registry_);
    EXPECT_TRUE(store.has_value()) << store.error().internal;
    store_ = std::move(*store);
    EXPECT_TRUE(WaitUntil([this] { return store_->Health().replicas_up == 1; }, milliseconds(5000)))
        << "the replica never came into rotation";
    return *store_;
  }
  double Metric(const std::string& series) const { return MetricValue(registry_, series); }

  asio::awaitable<Result<void>> WriteAsync(std::int64_t id,
                                           std::shared_ptr<WritePosition> position) {
    auto options = TransactionOptions().Consistency(std::move(position));
    // Named first: a lambda temporary in a co_await expression is destroyed twice by g++ 12.
    TransactionBody body = [id](SqlTransaction& tx) -> Awaitable<void> {
      SqlParams params{id, "v" + std::to_string(id)};
      auto done = co_await tx.Execute("INSERT INTO t (id, v) VALUES ($1, $2)", std::move(params));
      if (!done) co_return std::unexpected(done.error());
      co_return Result<void>();
    };
    co_return co_await store_->Transact(std::move(options), std::move(body));
  }
  Result<void> Write(std::int64_t id, std::shared_ptr<WritePosition> position) {
    return RunSync(WriteAsync(id, std::move(position)));
  }
  // The row's value through a read-only transaction, and the server it ran on.
  struct Read {
    std::optional<std::string> value;
    bool on_replica = false;
  };
  asio::awaitable<Result<Read>> ReadAsync(std::int64_t id,
                                          std::shared_ptr<WritePosition> position) {
    auto out = std::make_shared<Read>();
    auto options = TransactionOptions().ReadOnly();
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
    auto r = co_await store_->Transact(std::move(options), std::move(body));
    // Built first (ADR 0004: g++ 12 frees what a co_return expression reads too early).
    Result<Read> result = r ? Result<Read>(std::move(*out)) : std::unexpected(r.error());
    co_return result;
  }
  Result<Read> ReadRow(std::int64_t id, std::shared_ptr<WritePosition> position) {
    return RunSync(ReadAsync(id, std::move(position)));
  }

  std::string db_;
  platform::observe::Registry registry_;
  asio::io_context ctx_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_{
      asio::make_work_guard(ctx_)};
  std::thread loop_;
  std::unique_ptr<PgStore> store_;
};

TEST_F(ReplicaTest, ReadYourWritesWhileTheReplicaLags) {
  Settings settings = SettingsFor();
  // Slow ticks, so that reads after a fresh write find the cached position behind and ask.
  settings.replica_check_interval = milliseconds(1000);
  PgStore& store = Open(settings);
  (void)store;
  g_cluster->PauseReplay();
  constexpr int kPairs = 10'000;
  const double fallbacks_before = Metric(kFallbacks);
  struct Outcome {
    int stale = 0;
    int failed = 0;
    bool advanced = true;
    std::string first_error;
  };
  const auto began = Steady::now();
  // One coroutine for the whole loop: what is measured is the store, not an io_context each.
  const Outcome outcome = RunSync([this]() -> asio::awaitable<Outcome> {
    Outcome o;
    for (int i = 1; i <= kPairs && o.failed < 10; ++i) {
      auto position = std::make_shared<WritePosition>();
      auto wrote = co_await WriteAsync(i, position);
      if (!wrote) {
        if (o.failed++ == 0) o.first_error = "write: " + wrote.error().internal;
        continue;
      }
      if (position->Get() == 0) o.advanced = false;
      auto read = co_await ReadAsync(i, position);
      if (!read) {
        if (o.failed++ == 0) o.first_error = "read: " + read.error().internal;
        continue;
      }
      if (read->value != "v" + std::to_string(i)) ++o.stale;
    }
    co_return o;
  }());
  const auto took = std::chrono::duration_cast<milliseconds>(Steady::now() - began);
  std::cout << kPairs << " write-then-read pairs with replay paused: " << took.count() << " ms\n";
  const int stale = outcome.stale;
  EXPECT_EQ(outcome.failed, 0) << outcome.first_error;
  EXPECT_TRUE(outcome.advanced) << "a write did not advance its position";
  EXPECT_EQ(stale, 0);
  // The replica really was behind the whole time: it has none of the rows.
  EXPECT_EQ(g_cluster->Psql("SELECT count(*) FROM t", db_, true), "0");
  EXPECT_EQ(g_cluster->Psql("SELECT count(*) FROM t", db_), std::to_string(kPairs));
  EXPECT_EQ(Metric(kFallbacks) - fallbacks_before, kPairs);

  // Caught up: the same positions now send reads to the replica (a router that always picks
  // the primary fails here).
  g_cluster->ResumeReplay();
  g_cluster->WaitForReplay();
  // The monitor's next check sees it moving again (a stalled replica is not asked on a read).
  ASSERT_TRUE(WaitUntil([this] { return Metric(kLagBytes) == 0; }, milliseconds(5000)));
  const double to_replica = Metric(kToReplica);
  const double to_primary = Metric(kToPrimary);
  const double checks = Metric(kPositionChecks);
  // Writes, then the replica catches up, then each write's own position reads from it.
  constexpr int kReads = 200;
  std::vector<std::shared_ptr<WritePosition>> positions;
  for (int i = 1; i <= kReads; ++i) {
    positions.push_back(std::make_shared<WritePosition>());
    ASSERT_TRUE(Write(kPairs + i, positions.back()).has_value());
  }
  g_cluster->WaitForReplay();
  int on_replica = 0;
  for (int i = 1; i <= kReads; ++i) {
    auto read = ReadRow(kPairs + i, positions[static_cast<std::size_t>(i - 1)]);
    ASSERT_TRUE(read.has_value()) << read.error().internal;
    EXPECT_EQ(read->value, "v" + std::to_string(kPairs + i));
    if (read->on_replica) ++on_replica;
  }
  // And a write whose position the cached one has not reached: the replica is asked once.
  constexpr int kAsked = 10;
  for (int i = 1; i <= kAsked; ++i) {
    auto position = std::make_shared<WritePosition>();
    ASSERT_TRUE(Write(kPairs + kReads + i, position).has_value());
    g_cluster->WaitForReplay();
    auto read = ReadRow(kPairs + kReads + i, position);
    ASSERT_TRUE(read.has_value()) << read.error().internal;
    EXPECT_EQ(read->value, "v" + std::to_string(kPairs + kReads + i));
    if (read->on_replica) ++on_replica;
  }
  EXPECT_EQ(on_replica, kReads + kAsked);
  EXPECT_EQ(Metric(kToReplica) - to_replica, kReads + kAsked);
  EXPECT_EQ(Metric(kToPrimary) - to_primary, 0);
  EXPECT_GE(Metric(kPositionChecks) - checks, 1);
}

TEST_F(ReplicaTest, WritesAndReadsWithoutAPositionStayOnThePrimary) {
  PgStore& store = Open(SettingsFor());
  (void)store;
  const double to_primary = Metric(kToPrimary);
  // A write carrying a position still runs on the primary (a replica would refuse it).
  auto position = std::make_shared<WritePosition>();
  ASSERT_TRUE(Write(1, position).has_value());
  g_cluster->WaitForReplay();
  // Without a position: the primary, even though the replica has the row.
  auto read = ReadRow(1, nullptr);
  ASSERT_TRUE(read.has_value()) << read.error().internal;
  EXPECT_EQ(read->value, "v1");
  EXPECT_FALSE(read->on_replica);
  EXPECT_EQ(Metric(kToPrimary) - to_primary, 1);
  // A fresh token (position 0, nothing written yet) may read from any replica in rotation.
  auto fresh = ReadRow(1, std::make_shared<WritePosition>());
  ASSERT_TRUE(fresh.has_value()) << fresh.error().internal;
  EXPECT_TRUE(fresh->on_replica);
  EXPECT_EQ(fresh->value, "v1");
  const auto health = store_->Health();
  EXPECT_TRUE(health.ok);
  EXPECT_FALSE(health.degraded);
  EXPECT_EQ(health.replicas, 1U);
}

TEST_F(ReplicaTest, LaggingReplicaLeavesTheRotationAndComesBack) {
  Settings settings = SettingsFor();
  settings.max_replica_lag = milliseconds(300);
  settings.replica_check_interval = milliseconds(50);
  PgStore& store = Open(settings);
  (void)store;
  EXPECT_EQ(Metric(kReplicaUp), 1);
  g_cluster->PauseReplay();
  std::int64_t id = 0;
  auto position = std::make_shared<WritePosition>();
  // Writes keep coming while replay is paused: the replica falls behind by time and bytes.
  const auto paused_at = Steady::now();
  const bool out = WaitUntil(
      [&] {
        EXPECT_TRUE(Write(++id, position).has_value());
        return store_->Health().replicas_up == 0;
      },
      milliseconds(5000));
  ASSERT_TRUE(out) << "a replica paused for 5 s stayed in rotation";
  EXPECT_GE(Steady::now() - paused_at, milliseconds(300));
  EXPECT_GT(Metric(kLagSeconds), 0.3);
  EXPECT_GT(Metric(kLagBytes), 0);
  EXPECT_EQ(Metric(kReplicaUp), 0);
  // Out of rotation: even a position of 0 reads from the primary.
  auto read = ReadRow(1, std::make_shared<WritePosition>());
  ASSERT_TRUE(read.has_value()) << read.error().internal;
  EXPECT_FALSE(read->on_replica);

  g_cluster->ResumeReplay();
  const bool back = WaitUntil(
      [&] {
        EXPECT_TRUE(Write(++id, position).has_value());
        return store_->Health().replicas_up == 1;
      },
      milliseconds(5000));
  ASSERT_TRUE(back) << "the replica did not return after replay resumed";
  EXPECT_LE(Metric(kLagSeconds), 0.3);
  EXPECT_EQ(Metric(kReplicaUp), 1);
}

TEST_F(ReplicaTest, OpenChecksTheReplicaSettings) {
  Settings empty = SettingsFor();
  empty.replica_conninfos.emplace_back();
  auto refused = PgStore::Open(std::move(empty), ctx_.get_executor(),
                               platform::core::SystemClock::Instance(), registry_);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  Settings no_lag = SettingsFor();
  no_lag.max_replica_lag = milliseconds(0);
  auto zero = PgStore::Open(std::move(no_lag), ctx_.get_executor(),
                            platform::core::SystemClock::Instance(), registry_);
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ReplicaTest, UnreachableReplicaStaysOutOfRotation) {
  Settings settings = SettingsFor();
  // A second replica nobody listens for (port 1 on loopback: refused at once).
  settings.replica_conninfos.push_back("host=127.0.0.1 port=1 dbname=" + db_ +
                                       " connect_timeout=1");
  settings.replica_check_interval = milliseconds(50);
  PgStore& store = Open(settings);
  (void)store;
  const std::string dead_up = "trellis_sql_replica_up{" + kDb + ",replica=\"1\"}";
  ASSERT_TRUE(WaitUntil([&] { return Metric(dead_up) == 0 && Metric(kReplicaUp) == 1; },
                        milliseconds(3000)));
  // Every read with a position lands on the live replica, never on the dead one.
  auto position = std::make_shared<WritePosition>();
  ASSERT_TRUE(Write(1, position).has_value());
  g_cluster->WaitForReplay();
  for (int i = 0; i < 20; ++i) {
    auto read = ReadRow(1, position);
    ASSERT_TRUE(read.has_value()) << read.error().internal;
    EXPECT_EQ(read->value, "v1");
    EXPECT_TRUE(read->on_replica);
  }
  const auto health = store_->Health();
  EXPECT_TRUE(health.ok);  // the primary is fine: ready, not degraded
  EXPECT_FALSE(health.degraded);
  EXPECT_EQ(health.replicas, 2U);
  EXPECT_EQ(health.replicas_up, 1U);
}

}  // namespace
}  // namespace trellis::adapters::postgres
