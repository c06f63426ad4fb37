#include "adapters/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "tests/contract/sql_store_contract.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::adapters::sqlite {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Awaitable;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using platform::ports::Void;
using tests::contract::RunSync;
using tests::contract::SqlStoreAdapter;
using tests::contract::SqlStoreContract;
using tests::contract::SqlStoreHarness;
using tests::support::TempDir;

class SqliteHarness final : public SqlStoreHarness {
 public:
  SqliteHarness() {
    auto opened = SqliteStore::Open({.path = dir_.Path() / "contract.db", .readers = 2},
                                    platform::core::SystemClock::Instance(), registry_);
    if (!opened) throw std::runtime_error(opened.error().internal);
    store_ = std::move(*opened);
  }
  platform::ports::SqlStore& Store() override { return *store_; }

 private:
  TempDir dir_;
  platform::observe::Registry registry_;
  std::unique_ptr<SqliteStore> store_;  // closed before dir_ is removed
};

INSTANTIATE_TEST_SUITE_P(Sqlite, SqlStoreContract,
                         ::testing::Values(SqlStoreAdapter{
                             "sqlite", [] { return std::make_unique<SqliteHarness>(); }, "BLOB"}),
                         tests::contract::AdapterName);

// What only the SQLite adapter promises.
class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened =
        SqliteStore::Open({.path = dir_.Path() / "test.db", .readers = 1}, clock_, registry_);
    ASSERT_TRUE(opened.has_value()) << opened.error().internal;
    store_ = std::move(*opened);
  }
  Result<platform::ports::SqlResult> Run(std::string sql, bool read_only = false) {
    platform::ports::SqlResult out;
    auto r = RunSync(store_->Transact(TransactionOptions().ReadOnly(read_only),
                                      [&](SqlTransaction& tx) -> Awaitable<void> {
                                        auto res = co_await tx.Execute(sql);
                                        if (!res) co_return std::unexpected(res.error());
                                        out = std::move(*res);
                                        co_return Result<void>();
                                      }));
    if (!r) return std::unexpected(r.error());
    return out;
  }

  TempDir dir_;
  platform::core::SystemClock clock_;
  platform::observe::Registry registry_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, UsesWalAndForeignKeys) {
  auto mode = Run("PRAGMA journal_mode");
  ASSERT_TRUE(mode.has_value());
  EXPECT_EQ(mode->rows.at(0).Get<std::string>("journal_mode").value(), "wal");
  ASSERT_TRUE(Run("CREATE TABLE p (id INTEGER PRIMARY KEY)").has_value());
  ASSERT_TRUE(Run("CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES p(id))")
                  .has_value());
  auto orphan = Run("INSERT INTO c (id, p) VALUES (1, 42)");
  ASSERT_FALSE(orphan.has_value());
  EXPECT_EQ(orphan.error().code, ErrorCode::kInternal);
  EXPECT_EQ(orphan.error().message.find("FOREIGN"), std::string::npos);
  auto check = Run("CREATE TABLE k (v INTEGER CHECK (v > 0))");
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(Run("INSERT INTO k (v) VALUES (0)").error().code, ErrorCode::kInternal);
}

TEST_F(SqliteStoreTest, ReadOnlyScriptIsRefusedToo) {
  ASSERT_TRUE(Run("CREATE TABLE t (v INTEGER)").has_value());
  auto r = RunSync(
      store_->Transact(TransactionOptions().ReadOnly(), [](SqlTransaction& tx) -> Awaitable<void> {
        co_return co_await tx.ExecuteScript("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
      }));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Run("SELECT COUNT(*) AS n FROM t", true)->rows.at(0).Get<std::int64_t>("n").value(), 0);
}

TEST_F(SqliteStoreTest, ScriptMayNotEndItsTransaction) {
  ASSERT_TRUE(Run("CREATE TABLE t (v INTEGER)").has_value());
  auto r = RunSync(store_->Transact({}, [](SqlTransaction& tx) -> Awaitable<void> {
    co_return co_await tx.ExecuteScript("INSERT INTO t VALUES (1); COMMIT;");
  }));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(Run("SELECT COUNT(*) AS n FROM t", true)->rows.at(0).Get<std::int64_t>("n").value(), 0);
  EXPECT_FALSE(Run("BEGIN").has_value());
  // The store is usable afterwards.
  EXPECT_TRUE(Run("INSERT INTO t VALUES (2)").has_value());
}

TEST_F(SqliteStoreTest, ExecuteTakesOneStatement) {
  auto r = Run("SELECT 1; SELECT 2");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(r.error().message, "database error");
}

TEST_F(SqliteStoreTest, WaitingForTheWriterStopsAtTheDeadline) {
  asio::io_context ctx;
  asio::steady_timer release(ctx, asio::steady_timer::time_point::max());
  Result<void> holder;
  Result<void> waiter;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        holder = co_await store_->Transact({}, [&](SqlTransaction&) -> Awaitable<void> {
          boost::system::error_code ec;
          co_await release.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          co_return Result<void>();
        });
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        waiter = co_await store_->Transact(
            TransactionOptions().Deadline(clock_.Monotonic() + std::chrono::milliseconds(50)),
            [](SqlTransaction&) -> Awaitable<void> { co_return Result<void>(); });
        release.cancel();
      },
      asio::detached);
  ctx.run();
  EXPECT_TRUE(holder.has_value());
  ASSERT_FALSE(waiter.has_value());
  EXPECT_EQ(waiter.error().code, ErrorCode::kDeadlineExceeded);
  // The writer is free again.
  EXPECT_TRUE(Run("SELECT 1").has_value());
}

TEST_F(SqliteStoreTest, CountsTransactionsStatementsAndErrors) {
  ASSERT_TRUE(Run("SELECT 1").has_value());
  ASSERT_FALSE(Run("SELECT nope FROM nowhere").has_value());
  const std::string text = registry_.Render();
  EXPECT_NE(text.find("trellis_sql_transactions_total{engine=\"sqlite\",db=\"main\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trellis_sql_statements_total{engine=\"sqlite\",db=\"main\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trellis_sql_errors_total{engine=\"sqlite\",db=\"main\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("trellis_sql_statement_seconds_count{engine=\"sqlite\",db=\"main\"} 2"),
            std::string::npos)
      << text;
}

TEST(SqliteStoreOpenTest, UnopenableFileIsUnavailableWithoutThePath) {
  platform::observe::Registry registry;
  auto r = SqliteStore::Open({.path = "/nonexistent-dir/sub/x.db"},
                             platform::core::SystemClock::Instance(), registry);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message.find("nonexistent"), std::string::npos);
  EXPECT_NE(r.error().internal.find("nonexistent"), std::string::npos);
}

}  // namespace
}  // namespace trellis::adapters::sqlite
