// PgStore against a real PostgreSQL 15 (tests/support/postgres_cluster): the SqlStore contract,
// then what only PostgreSQL does: pipelining, cancel at the deadline, transaction-local
// settings, the pool's bound, a server restart, credential rotation, search_path, the
// statement cache.
#include "adapters/postgres/pg_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/contract/sql_store_contract.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::adapters::postgres {
namespace {

namespace asio = boost::asio;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Awaitable;
using platform::ports::RunSync;
using platform::ports::SqlParams;
using platform::ports::SqlResult;
using platform::ports::SqlStatement;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using platform::ports::Void;
using tests::contract::SqlStoreContract;
using tests::support::PostgresCluster;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One server for the whole binary; a fresh database per test.
PostgresCluster* g_cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    cluster_ = PostgresCluster::Start();
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

// Outlives every store (the executor Open takes, for the min_idle warm-up).
asio::io_context& HomeContext() {
  static asio::io_context ctx;
  return ctx;
}

Settings SettingsFor(const std::string& db) {
  Settings s;
  s.name = "test";
  s.conninfo =
      g_cluster->ConnectionString(PostgresCluster::kSuperuser, g_cluster->SuperuserPassword(), db);
  return s;
}

std::unique_ptr<PgStore> OpenStore(Settings settings, platform::observe::Registry& registry) {
  auto store = PgStore::Open(std::move(settings), HomeContext().get_executor(),
                             platform::core::SystemClock::Instance(), registry);
  EXPECT_TRUE(store.has_value()) << store.error().internal;
  return store ? std::move(*store) : nullptr;
}

class PgHarness : public tests::contract::SqlStoreHarness {
 public:
  PgHarness() : store_(OpenStore(SettingsFor(g_cluster->CreateDatabase()), registry_)) {}
  platform::ports::SqlStore& Store() override { return *store_; }

 private:
  platform::observe::Registry registry_;
  std::unique_ptr<PgStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, SqlStoreContract,
                         ::testing::Values(tests::contract::SqlStoreAdapter{
                             "postgres", [] { return std::make_unique<PgHarness>(); }, "BYTEA"}),
                         tests::contract::AdapterName);

// The value of a counter series in the registry's text output; -1 when absent.
double MetricValue(const platform::observe::Registry& registry, const std::string& series) {
  std::istringstream lines(registry.Render());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

const std::string kTestLabels = "{engine=\"postgres\",db=\"test\"}";

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = g_cluster->CreateDatabase(); }
  std::unique_ptr<PgStore> Open(Settings settings) {
    return OpenStore(std::move(settings), registry_);
  }
  std::unique_ptr<PgStore> Open() { return Open(SettingsFor(db_)); }
  double Metric(const std::string& name) { return MetricValue(registry_, name + kTestLabels); }
  std::string Psql(const std::string& sql) { return g_cluster->Psql(sql, db_); }

  // One statement in its own transaction.
  Result<SqlResult> Run(PgStore& store, std::string sql, TransactionOptions options = {}) {
    SqlResult out;
    auto r = RunSync(store.Transact(std::move(options), [&](SqlTransaction& tx) -> Awaitable<void> {
      auto res = co_await tx.Execute(sql);
      if (!res) co_return std::unexpected(res.error());
      out = std::move(*res);
      co_return Result<void>();
    }));
    if (!r) return std::unexpected(r.error());
    return out;
  }

  std::string db_;
  platform::observe::Registry registry_;
};

TEST_F(PgStoreTest, BatchOfTenIsOneRoundTrip) {
  auto store = Open();
  ASSERT_TRUE(Run(*store, "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)").has_value());
  const double before = Metric("trellis_sql_round_trips_total");
  std::vector<SqlResult> results;
  auto r = RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    EXPECT_EQ(tx.Dialect(), platform::ports::SqlDialect::kPostgres);
    std::vector<SqlStatement> batch;
    for (std::int64_t i = 0; i < 10; ++i) {
      SqlParams params{i, "v" + std::to_string(i)};
      batch.emplace_back("INSERT INTO t (id, v) VALUES ($1, $2)", std::move(params));
    }
    auto done = co_await tx.ExecuteBatch(std::move(batch));
    if (!done) co_return std::unexpected(done.error());
    results = std::move(*done);
    co_return Result<void>();
  }));
  ASSERT_TRUE(r.has_value()) << r.error().internal;
  ASSERT_EQ(results.size(), 10U);
  for (const auto& one : results) EXPECT_EQ(one.rows_affected, 1);
  // BEGIN + settings + the 10 inserts in one round trip, then COMMIT.
  EXPECT_EQ(Metric("trellis_sql_round_trips_total") - before, 2);
  EXPECT_EQ(Psql("SELECT count(*) FROM t"), "10");

  // A failure inside a batch dooms the transaction: nothing of it stays.
  auto failed = RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    std::vector<SqlStatement> batch;
    batch.emplace_back("INSERT INTO t (id, v) VALUES (100, 'x')", SqlParams{});
    batch.emplace_back("INSERT INTO t (id, v) VALUES (1, 'dup')", SqlParams{});
    batch.emplace_back("INSERT INTO t (id, v) VALUES (101, 'y')", SqlParams{});
    co_return Void(co_await tx.ExecuteBatch(std::move(batch)));
  }));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Psql("SELECT count(*) FROM t"), "10");
}

TEST_F(PgStoreTest, DeadlineCancelsTheRunningStatement) {
  auto store = Open();
  const auto begin = Steady::now();
  auto r =
      Run(*store, "SELECT pg_sleep(2)", TransactionOptions().Deadline(begin + milliseconds(500)));
  const auto took = Steady::now() - begin;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_LT(took, milliseconds(550)) << std::chrono::duration_cast<milliseconds>(took).count();
  EXPECT_GE(took, milliseconds(490));
  // The server stops it too (cancel, or statement_timeout), well before its 2 s.
  std::string running = "1";
  for (int i = 0; i < 50 && running != "0"; ++i) {
    running = Psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = "
        "'active'");
    if (running != "0") std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(running, "0");
  EXPECT_LT(Steady::now() - begin, milliseconds(1500));
  // The store carries on.
  EXPECT_TRUE(Run(*store, "SELECT 1 AS one").has_value());
}

TEST_F(PgStoreTest, SettingsAreLocalToTheTransaction) {
  Settings settings = SettingsFor(db_);
  settings.max_connections = 1;  // both transactions on the same connection
  auto store = Open(settings);
  const std::string read =
      "SELECT current_setting('trellis.org_id', true) AS org, "
      "current_setting('trellis.user_id', true) AS usr, pg_backend_pid() AS pid";
  auto first =
      Run(*store, read, TransactionOptions().Org("org-1").Setting("trellis.user_id", "u-1"));
  ASSERT_TRUE(first.has_value()) << first.error().internal;
  EXPECT_EQ(first->rows.at(0).Get<std::string>("org").value(), "org-1");
  EXPECT_EQ(first->rows.at(0).Get<std::string>("usr").value(), "u-1");
  auto second = Run(*store, read);
  ASSERT_TRUE(second.has_value()) << second.error().internal;
  EXPECT_EQ(second->rows.at(0).Get<std::int64_t>("pid").value(),
            first->rows.at(0).Get<std::int64_t>("pid").value());
  EXPECT_EQ(second->rows.at(0).GetOptional<std::string>("org").value().value_or(""), "");
  EXPECT_EQ(second->rows.at(0).GetOptional<std::string>("usr").value().value_or(""), "");
  // Only trellis.* names.
  auto bad = Run(*store, "SELECT 1", TransactionOptions().Setting("role", "postgres"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  // Nor may callers end the store's transaction themselves.
  auto commit = Run(*store, "COMMIT");
  ASSERT_FALSE(commit.has_value());
  EXPECT_EQ(commit.error().code, ErrorCode::kInternal);
}

TEST_F(PgStoreTest, PoolBoundMakesAThirdTransactionWaitUntilItsDeadline) {
  Settings settings = SettingsFor(db_);
  settings.max_connections = 2;
  auto store = Open(settings);
  asio::io_context ctx;
  asio::steady_timer hold(ctx, asio::steady_timer::time_point::max());
  int holding = 0;
  Result<void> third = platform::core::Fail(ErrorCode::kInternal, "not run");
  Steady::duration third_took{};
  auto holder = [&]() -> asio::awaitable<void> {
    auto r = co_await store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
      auto one = co_await tx.Execute("SELECT 1 AS one");
      if (!one) co_return std::unexpected(one.error());
      ++holding;
      boost::system::error_code ec;
      co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_return Result<void>();
    });
    EXPECT_TRUE(r.has_value()) << r.error().internal;
  };
  auto waiter = [&]() -> asio::awaitable<void> {
    asio::steady_timer settle(ctx, milliseconds(300));
    co_await settle.async_wait(asio::use_awaitable);
    EXPECT_EQ(holding, 2);
    const auto begin = Steady::now();
    third = co_await store->Transact(TransactionOptions().Deadline(begin + milliseconds(200)),
                                     [&](SqlTransaction& tx) -> Awaitable<void> {
                                       co_return Void(co_await tx.Execute("SELECT 1"));
                                     });
    third_took = Steady::now() - begin;
    EXPECT_EQ(store->Health().connections, 2U);
    hold.cancel();
  };
  asio::co_spawn(ctx, holder(), asio::detached);
  asio::co_spawn(ctx, holder(), asio::detached);
  asio::co_spawn(ctx, waiter(), asio::detached);
  ctx.run();
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_GE(third_took, milliseconds(190));
  EXPECT_LT(third_took, milliseconds(400));
  EXPECT_TRUE(Run(*store, "SELECT 1 AS one").has_value());
}

// Two serializable read-check-write transactions that overlap: under READ COMMITTED the second
// would write a value computed from a stale read (a lost update); SERIALIZABLE makes it fail,
// and the store runs its body again, so both increments land.
TEST_F(PgStoreTest, OverlappingWritesAreSerializedByRunningTheLoserAgain) {
  auto store = Open();
  ASSERT_TRUE(Run(*store, "CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)"));
  ASSERT_TRUE(Run(*store, "INSERT INTO counter VALUES (1, 0)"));
  asio::io_context ctx;
  int bodies = 0;
  std::vector<Result<void>> outcomes;
  auto increment = [&]() -> asio::awaitable<void> {
    auto r = co_await store->Transact(
        TransactionOptions().Serializable(), [&](SqlTransaction& tx) -> Awaitable<void> {
          ++bodies;
          auto read = co_await tx.Execute("SELECT n FROM counter WHERE id = 1");
          if (!read) co_return std::unexpected(read.error());
          auto n = read->rows.at(0).Get<std::int64_t>("n");
          if (!n) co_return std::unexpected(n.error());
          // Both have read before either writes.
          asio::steady_timer pause(co_await asio::this_coro::executor, milliseconds(100));
          co_await pause.async_wait(asio::use_awaitable);
          SqlParams p{*n + 1};
          co_return Void(co_await tx.Execute("UPDATE counter SET n = $1 WHERE id = 1", p));
        });
    outcomes.push_back(r);
  };
  asio::co_spawn(ctx, increment(), asio::detached);
  asio::co_spawn(ctx, increment(), asio::detached);
  ctx.run();
  ASSERT_EQ(outcomes.size(), 2U);
  for (const auto& r : outcomes) EXPECT_TRUE(r.has_value()) << r.error().internal;
  EXPECT_EQ(Psql("SELECT n FROM counter WHERE id = 1"), "2");
  EXPECT_EQ(bodies, 3);  // the loser ran twice
  EXPECT_EQ(Metric("trellis_sql_transaction_retries_total"), 1.0);
}

TEST_F(PgStoreTest, SearchPathIsSetPerConnection) {
  Psql("CREATE SCHEMA ctx; CREATE TABLE ctx.things (id BIGINT); INSERT INTO ctx.things VALUES (7)");
  Settings settings = SettingsFor(db_);
  settings.search_path = "ctx";
  auto store = Open(settings);
  auto r = Run(*store, "SELECT current_schema() AS s, (SELECT id FROM things) AS id");
  ASSERT_TRUE(r.has_value()) << r.error().internal;
  EXPECT_EQ(r->rows.at(0).Get<std::string>("s").value(), "ctx");
  EXPECT_EQ(r->rows.at(0).Get<std::int64_t>("id").value(), 7);
}

TEST_F(PgStoreTest, StatementsArePreparedOncePerConnection) {
  Settings settings = SettingsFor(db_);
  settings.max_connections = 1;
  auto store = Open(settings);
  auto once = [&](std::int64_t v) {
    return RunSync(
        store->Transact(TransactionOptions().Org("o"), [&](SqlTransaction& tx) -> Awaitable<void> {
          SqlParams params{v};
          co_return Void(co_await tx.Execute("SELECT $1 + 1 AS n", std::move(params)));
        }));
  };
  ASSERT_TRUE(once(1).has_value());
  // BEGIN, the settings, the statement and COMMIT.
  EXPECT_EQ(Metric("trellis_sql_prepares_total"), 4);
  for (std::int64_t i = 0; i < 5; ++i) ASSERT_TRUE(once(i).has_value());
  EXPECT_EQ(Metric("trellis_sql_prepares_total"), 4);
  // Another parameter type is another statement.
  auto text = RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    SqlParams params{std::string("5")};
    auto r = co_await tx.Execute("SELECT $1 + 1 AS n", std::move(params));
    if (!r) co_return std::unexpected(r.error());
    EXPECT_EQ(r->rows.at(0).Get<std::int64_t>("n").value_or(0), 6);
    co_return Result<void>();
  }));
  ASSERT_TRUE(text.has_value()) << text.error().internal;
  EXPECT_EQ(Metric("trellis_sql_prepares_total"), 5);
}

TEST_F(PgStoreTest, CredentialRotationDrainsOldConnections) {
  Psql("CREATE ROLE rotating LOGIN PASSWORD 'first'");
  tests::support::TempDir dir;
  const auto file = dir.Path() / "password";
  std::ofstream(file) << "first\n";
  Settings settings;
  settings.name = "test";
  settings.conninfo =
      "host=127.0.0.1 port=" + std::to_string(g_cluster->PrimaryPort()) + " dbname=" + db_;
  settings.user = "rotating";
  settings.password_file = file;
  auto store = Open(settings);
  ASSERT_TRUE(Run(*store, "SELECT current_user AS u").has_value());

  // Holds a transaction open on one connection while another runs; pids of both.
  auto overlapped = [&](const std::function<void()>& meanwhile, std::int64_t& held_pid,
                        std::int64_t& other_pid) {
    asio::io_context ctx;
    asio::steady_timer hold(ctx, asio::steady_timer::time_point::max());
    asio::steady_timer started(ctx, asio::steady_timer::time_point::max());
    bool held_started = false;
    Result<void> held = platform::core::Fail(ErrorCode::kInternal, "not run");
    Result<void> other = platform::core::Fail(ErrorCode::kInternal, "not run");
    auto pid_of = [](SqlTransaction& tx, std::int64_t& pid) -> Awaitable<void> {
      auto r = co_await tx.Execute("SELECT pg_backend_pid() AS pid");
      if (!r) co_return std::unexpected(r.error());
      pid = r->rows.at(0).Get<std::int64_t>("pid").value_or(0);
      co_return Result<void>();
    };
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          held = co_await store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
            auto r = co_await pid_of(tx, held_pid);
            held_started =
                true;  // the statement may not have suspended: a flag, not only the timer
            started.cancel();
            if (!r) co_return r;
            boost::system::error_code ec;
            co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            // Still usable after the rotation, and its commit goes through.
            co_return Void(co_await tx.Execute("SELECT current_user AS u"));
          });
        },
        asio::detached);
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
          boost::system::error_code ec;
          if (!held_started) {
            co_await started.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          }
          meanwhile();
          other = co_await store->Transact(
              {}, [&](SqlTransaction& tx) -> Awaitable<void> { return pid_of(tx, other_pid); });
          hold.cancel();
        },
        asio::detached);
    ctx.run();
    EXPECT_TRUE(held.has_value()) << held.error().internal;
    EXPECT_TRUE(other.has_value()) << other.error().internal;
  };

  // Rotation announced by ReloadCredentials (SIGHUP).
  std::int64_t old_pid = 0;
  std::int64_t new_pid = 0;
  overlapped(
      [&] {
        Psql("ALTER ROLE rotating PASSWORD 'second'");
        std::ofstream(file) << "second\n";
        EXPECT_TRUE(store->ReloadCredentials().has_value());
      },
      old_pid, new_pid);
  EXPECT_NE(old_pid, new_pid);
  // The connection made with the old password was closed when its transaction ended.
  EXPECT_EQ(store->Health().connections, 1U);
  auto reused = Run(*store, "SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(reused.has_value()) << reused.error().internal;
  EXPECT_EQ(reused->rows.at(0).Get<std::int64_t>("pid").value(), new_pid);

  // Rotation noticed by the file's mtime when a connection is made.
  std::int64_t second_pid = 0;
  std::int64_t third_pid = 0;
  overlapped(
      [&] {
        Psql("ALTER ROLE rotating PASSWORD 'third'");
        std::this_thread::sleep_for(milliseconds(20));
        std::ofstream(file) << "third\n";
      },
      second_pid, third_pid);
  EXPECT_EQ(second_pid, new_pid);
  EXPECT_NE(third_pid, second_pid);
  EXPECT_EQ(store->Health().connections, 1U);
  EXPECT_TRUE(Run(*store, "SELECT 1 AS one").has_value());
}

TEST_F(PgStoreTest, ScriptsRunWholeButCannotEndTheTransaction) {
  auto store = Open();
  auto script = [&](std::string sql) {
    return RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
      co_return co_await tx.ExecuteScript(std::move(sql));
    }));
  };
  // Dollar quotes, strings and comments may hold semicolons and keywords.
  auto ran = script(
      "CREATE TABLE a (x BIGINT); -- COMMIT; in a comment\n"
      "CREATE FUNCTION f() RETURNS BIGINT LANGUAGE sql AS $$ SELECT 1; $$;\n"
      "INSERT INTO a VALUES (f()); INSERT INTO a SELECT length('ROLLBACK; ''x''')");
  ASSERT_TRUE(ran.has_value()) << ran.error().internal;
  EXPECT_EQ(Psql("SELECT sum(x) FROM a"), "14");  // 1 + 13
  auto ended = script("INSERT INTO a VALUES (100); COMMIT; INSERT INTO a VALUES (200)");
  ASSERT_FALSE(ended.has_value());
  EXPECT_EQ(ended.error().code, ErrorCode::kInternal);
  auto savepoint = script("SAVEPOINT s; INSERT INTO a VALUES (300)");
  ASSERT_FALSE(savepoint.has_value());
  EXPECT_EQ(Psql("SELECT sum(x) FROM a"), "14");  // 1 + 13
  // A failing script rolls back all of it.
  auto failing = script("INSERT INTO a VALUES (1000); SELECT 1 / 0");
  ASSERT_FALSE(failing.has_value());
  EXPECT_EQ(failing.error().code, ErrorCode::kInternal);
  EXPECT_EQ(Psql("SELECT sum(x) FROM a"), "14");  // 1 + 13
}

TEST_F(PgStoreTest, ErrorsMapToCanonicalCodes) {
  auto store = Open();
  ASSERT_TRUE(Run(*store, "CREATE TABLE e (id BIGINT PRIMARY KEY, v TEXT NOT NULL)").has_value());
  auto not_null = Run(*store, "INSERT INTO e (id, v) VALUES (1, NULL)");
  ASSERT_FALSE(not_null.has_value());
  EXPECT_EQ(not_null.error().code, ErrorCode::kInternal);
  EXPECT_EQ(not_null.error().message, "a data constraint was violated");
  EXPECT_NE(not_null.error().internal.find("23502"), std::string::npos);
  auto syntax = Run(*store, "SELEC 1");
  ASSERT_FALSE(syntax.has_value());
  EXPECT_EQ(syntax.error().code, ErrorCode::kInternal);
  EXPECT_EQ(syntax.error().message, "database error");
  Psql("CREATE ROLE weak LOGIN PASSWORD 'weak-secret'");
  Settings settings = SettingsFor(db_);
  const std::string base =
      "host=127.0.0.1 port=" + std::to_string(g_cluster->PrimaryPort()) + " dbname=" + db_;
  settings.conninfo = base + " user=weak password=weak-secret";
  auto weak = Open(settings);
  auto denied = Run(*weak, "SELECT * FROM e");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code, ErrorCode::kInternal);
  EXPECT_NE(denied.error().internal.find("lacks a privilege"), std::string::npos);
  EXPECT_EQ(denied.error().internal.find("weak-secret"), std::string::npos);
  settings.conninfo = base + " user=weak password=wrong-secret";
  auto wrong = Open(settings);
  auto refused = Run(*wrong, "SELECT 1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().internal.find("wrong-secret"), std::string::npos);
}

TEST_F(PgStoreTest, MinIdleConnectionsAreOpenedAtStart) {
  asio::io_context home;
  Settings settings = SettingsFor(db_);
  settings.min_idle = 2;
  auto store = PgStore::Open(settings, home.get_executor(), platform::core::SystemClock::Instance(),
                             registry_);
  ASSERT_TRUE(store.has_value()) << store.error().internal;
  home.run();
  EXPECT_EQ((*store)->Health().idle, 2U);
  EXPECT_EQ(Metric("trellis_sql_connects_total"), 2);
  EXPECT_TRUE(Run(**store, "SELECT 1 AS one").has_value());
  EXPECT_EQ(Metric("trellis_sql_connects_total"), 2);
}

TEST_F(PgStoreTest, ConnectionsOlderThanMaxLifetimeAreReplaced) {
  Settings settings = SettingsFor(db_);
  settings.max_connections = 1;
  // Long enough that two quick transactions on a loaded machine still find it young.
  settings.max_lifetime = milliseconds(1500);
  auto store = Open(settings);
  auto pid = [&] {
    auto r = Run(*store, "SELECT pg_backend_pid() AS pid");
    EXPECT_TRUE(r.has_value()) << r.error().internal;
    return r ? r->rows.at(0).Get<std::int64_t>("pid").value_or(0) : 0;
  };
  const auto first = pid();
  EXPECT_EQ(pid(), first);  // young enough: reused
  std::this_thread::sleep_for(milliseconds(1600));
  EXPECT_NE(pid(), first);  // too old: closed, not handed out
  EXPECT_EQ(Metric("trellis_sql_connects_total"), 2);
}

TEST_F(PgStoreTest, ColumnsDecodeByTypeAndSpecialDoublesRoundTrip) {
  auto store = Open();
  auto r = Run(*store,
               "SELECT true AS t, false AS f, 2::int2 AS small, 7::int4 AS mid, 9::oid AS o, "
               "1.5::numeric AS n, 0.25::float4 AS r, 'x'::varchar AS v, NULL::int8 AS z, "
               "'\\x00ff'::bytea AS bytes, now() AS ts");
  ASSERT_TRUE(r.has_value()) << r.error().internal;
  const auto& row = r->rows.at(0);
  EXPECT_EQ(row.Get<std::int64_t>("t").value(), 1);
  EXPECT_EQ(row.Get<std::int64_t>("f").value(), 0);
  EXPECT_EQ(row.Get<std::int64_t>("small").value(), 2);
  EXPECT_EQ(row.Get<std::int64_t>("mid").value(), 7);
  EXPECT_EQ(row.Get<std::int64_t>("o").value(), 9);
  EXPECT_EQ(row.Get<double>("n").value(), 1.5);
  EXPECT_EQ(row.Get<double>("r").value(), 0.25);
  EXPECT_EQ(row.Get<std::string>("v").value(), "x");
  EXPECT_TRUE(row.IsNull("z"));
  EXPECT_EQ(row.Get<platform::ports::Blob>("bytes").value(), (platform::ports::Blob{{0x00, 0xFF}}));
  EXPECT_TRUE(row.Get<std::string>("ts").has_value());  // anything else is text

  const double values[] = {std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), 0.1, 1e300, -0.0};
  for (const double v : values) {
    SqlResult out;
    auto echoed = RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
      SqlParams params{v};
      auto e = co_await tx.Execute("SELECT $1::float8 AS v", std::move(params));
      if (!e) co_return std::unexpected(e.error());
      out = std::move(*e);
      co_return Result<void>();
    }));
    ASSERT_TRUE(echoed.has_value()) << echoed.error().internal;
    EXPECT_EQ(out.rows.at(0).Get<double>("v").value(), v);
  }
  auto nan = RunSync(store->Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    SqlParams params{std::numeric_limits<double>::quiet_NaN()};
    auto e = co_await tx.Execute("SELECT $1::float8 AS v", std::move(params));
    if (!e) co_return std::unexpected(e.error());
    EXPECT_TRUE(std::isnan(e->rows.at(0).Get<double>("v").value_or(0)));
    co_return Result<void>();
  }));
  EXPECT_TRUE(nan.has_value()) << nan.error().internal;
}

TEST_F(PgStoreTest, FullStatementCacheDeallocatesOnTheServer) {
  Settings settings = SettingsFor(db_);
  settings.max_connections = 1;
  settings.statement_cache = 5;
  auto store = Open(settings);
  for (int i = 0; i < 12; ++i) {
    auto r = Run(
        *store, "SELECT count(*) AS n, " + std::to_string(i) + " AS i FROM pg_prepared_statements");
    ASSERT_TRUE(r.has_value()) << r.error().internal;
    EXPECT_EQ(r->rows.at(0).Get<std::int64_t>("i").value(), i);
    // The server never holds more than the cache's bound (plus the one being prepared).
    EXPECT_LE(r->rows.at(0).Get<std::int64_t>("n").value(), 6) << i;
  }
}

// Last: it stops the shared server (and starts it again).
TEST_F(PgStoreTest, ServerRestartFailsFastThenRecoversWithoutANewStore) {
  Settings settings = SettingsFor(db_);
  settings.backoff_cap = milliseconds(500);
  auto store = Open(settings);
  ASSERT_TRUE(Run(*store, "SELECT 1 AS one").has_value());
  // A restart between two transactions: the idle connection the server closed is noticed
  // before it is handed out, and the next transaction simply reconnects.
  g_cluster->StopPrimary();
  g_cluster->StartPrimary();
  auto after_restart = Run(*store, "SELECT 1 AS one");
  EXPECT_TRUE(after_restart.has_value()) << after_restart.error().internal;
  g_cluster->StopPrimary();
  for (int i = 0; i < 3; ++i) {
    const auto begin = Steady::now();
    auto r =
        Run(*store, "SELECT 1 AS one", TransactionOptions().Deadline(begin + milliseconds(2000)));
    const auto took = Steady::now() - begin;
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().internal;
    EXPECT_LT(took, milliseconds(500)) << std::chrono::duration_cast<milliseconds>(took).count();
    // Errors name no password nor conninfo.
    EXPECT_EQ(r.error().internal.find(g_cluster->SuperuserPassword()), std::string::npos);
  }
  EXPECT_FALSE(store->Health().ok);
  EXPECT_GE(Metric("trellis_sql_connect_failures_total"), 1);
  g_cluster->StartPrimary();
  Result<SqlResult> back = platform::core::Fail(ErrorCode::kInternal, "not run");
  const auto begin = Steady::now();
  while (Steady::now() - begin < std::chrono::seconds(10)) {
    back = Run(*store, "SELECT 1 AS one");
    if (back) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(back.has_value()) << back.error().internal;
  EXPECT_TRUE(store->Health().ok);
}

}  // namespace
}  // namespace trellis::adapters::postgres
