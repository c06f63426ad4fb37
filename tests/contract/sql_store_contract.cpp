#include "tests/contract/sql_store_contract.hpp"

#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace trellis::tests::contract {

namespace asio = boost::asio;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Awaitable;
using platform::ports::Blob;
using platform::ports::SqlParams;
using platform::ports::SqlResult;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using platform::ports::Void;
using Steady = std::chrono::steady_clock;

// Test binaries that link the suite without instantiating it (other tests of an adapter).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SqlStoreContract);

std::string AdapterName(const ::testing::TestParamInfo<SqlStoreAdapter>& info) {
  return info.param.name;
}

void SqlStoreContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
  auto made = Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    // Named containers, not braces, across co_await: g++ 12 cannot keep an initializer_list's
    // array alive over a suspension ("array used as initializer").
    const std::vector<std::string> schema{
        "CREATE TABLE vals (id BIGINT PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, s TEXT, b " +
            GetParam().blob_type + ")",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
        "INSERT INTO counter (id, n) VALUES (1, 0)",
    };
    for (const std::string& ddl : schema) {
      if (auto r = co_await tx.Execute(ddl); !r) co_return std::unexpected(r.error());
    }
    co_return Result<void>();
  });
  ASSERT_TRUE(made.has_value()) << made.error().internal;
}

Result<SqlResult> SqlStoreContract::Run(std::string sql, SqlParams params, bool read_only) {
  SqlResult out;
  auto r = Transact(TransactionOptions().ReadOnly(read_only),
                    [&](SqlTransaction& tx) -> Awaitable<void> {
                      auto res = co_await tx.Execute(std::move(sql), std::move(params));
                      if (!res) co_return std::unexpected(res.error());
                      out = std::move(*res);
                      co_return Result<void>();
                    });
  if (!r) return std::unexpected(r.error());
  return out;
}

std::int64_t SqlStoreContract::Count(const std::string& table) {
  auto r = Run("SELECT COUNT(*) AS n FROM " + table, {}, true);
  EXPECT_TRUE(r.has_value()) << r.error().internal;
  if (!r || r->rows.size() != 1) return -1;
  return r->rows[0].Get<std::int64_t>("n").value_or(-1);
}

TEST_P(SqlStoreContract, RoundTripsEveryValueType) {
  const std::string utf8 = "h\xC3\xA9llo, \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x8C\x8D";
  const Blob bytes{{0x00, 0x01, 0x00, 0xFF, 0x00}};
  const std::string insert = "INSERT INTO vals (id, i, d, s, b) VALUES ($1, $2, $3, $4, $5)";
  auto written = Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    SqlParams first{std::int64_t{1}, std::numeric_limits<std::int64_t>::min(), 3.25, utf8, bytes};
    auto a = co_await tx.Execute(insert, std::move(first));
    if (!a) co_return std::unexpected(a.error());
    EXPECT_EQ(a->rows_affected, 1);
    SqlParams second{std::int64_t{2}, std::numeric_limits<std::int64_t>::max(), -0.5, std::string(),
                     Blob{}};
    auto b = co_await tx.Execute(insert, std::move(second));
    if (!b) co_return std::unexpected(b.error());
    SqlParams nulls{std::int64_t{3}, std::monostate{}, std::monostate{}, std::monostate{},
                    std::monostate{}};
    co_return Void(co_await tx.Execute(insert, std::move(nulls)));
  });
  ASSERT_TRUE(written.has_value()) << written.error().internal;

  auto read = Run("SELECT id, i, d, s, b FROM vals ORDER BY id", {}, true);
  ASSERT_TRUE(read.has_value()) << read.error().internal;
  ASSERT_EQ(read->rows.size(), 3U);
  const auto& r1 = read->rows[0];
  EXPECT_EQ(r1.Get<std::int64_t>("i").value(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r1.Get<double>("d").value(), 3.25);
  EXPECT_EQ(r1.Get<std::string>("s").value(), utf8);
  EXPECT_EQ(r1.Get<Blob>("b").value(), bytes);
  const auto& r2 = read->rows[1];
  EXPECT_EQ(r2.Get<std::int64_t>("i").value(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(r2.Get<double>("d").value(), -0.5);
  EXPECT_EQ(r2.Get<std::string>("s").value(), "");
  EXPECT_EQ(r2.Get<Blob>("b").value(), Blob{});
  const auto& r3 = read->rows[2];
  for (const char* column : {"i", "d", "s", "b"}) EXPECT_TRUE(r3.IsNull(column)) << column;
  EXPECT_EQ(r3.GetOptional<std::int64_t>("i").value(), std::nullopt);
  EXPECT_EQ(r1.GetOptional<std::string>("s").value(), utf8);
  // A NULL, a wrong type or a missing column is an error, not a default.
  EXPECT_EQ(r3.Get<std::int64_t>("i").error().code, ErrorCode::kInternal);
  EXPECT_EQ(r1.Get<std::string>("i").error().code, ErrorCode::kInternal);
  EXPECT_FALSE(r1.Get<std::int64_t>("nope").has_value());
}

TEST_P(SqlStoreContract, CallbackErrorRollsBackEverything) {
  auto r = Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    SqlParams params{std::int64_t{1}, std::string("a")};
    auto a = co_await tx.Execute("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(params));
    EXPECT_TRUE(a.has_value());
    auto b = co_await tx.Execute("UPDATE counter SET n = n + 1");
    EXPECT_TRUE(b.has_value());
    co_return platform::core::Fail(ErrorCode::kAborted, "changed my mind");
  });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAborted);
  EXPECT_EQ(Count("items"), 0);
  auto n = Run("SELECT n FROM counter", {}, true);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->rows.at(0).Get<std::int64_t>("n").value(), 0);
}

TEST_P(SqlStoreContract, ExceptionRollsBackAndPropagates) {
  EXPECT_THROW((void)Transact({},
                              [&](SqlTransaction& tx) -> Awaitable<void> {
                                SqlParams params{std::int64_t{1}, std::string("a")};
                                auto a = co_await tx.Execute(
                                    "INSERT INTO items (id, name) VALUES ($1, $2)",
                                    std::move(params));
                                EXPECT_TRUE(a.has_value());
                                throw std::runtime_error("boom");
                              }),
               std::runtime_error);
  EXPECT_EQ(Count("items"), 0);
  // The connection went back to the store: the next write works.
  EXPECT_TRUE(Run("INSERT INTO items (id, name) VALUES (2, 'b')").has_value());
  EXPECT_EQ(Count("items"), 1);
}

TEST_P(SqlStoreContract, UniqueViolationIsAlreadyExistsWithoutDriverText) {
  ASSERT_TRUE(
      Run("INSERT INTO items (id, name) VALUES ($1, $2)", {std::int64_t{1}, std::string("same")})
          .has_value());
  auto dup =
      Run("INSERT INTO items (id, name) VALUES ($1, $2)", {std::int64_t{2}, std::string("same")});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, ErrorCode::kAlreadyExists);
  EXPECT_FALSE(dup.error().internal.empty());
  for (const char* leak : {"UNIQUE", "unique", "constraint", "items", "name", "INSERT"}) {
    EXPECT_EQ(dup.error().message.find(leak), std::string::npos) << dup.error().message;
  }
  auto same_key =
      Run("INSERT INTO items (id, name) VALUES ($1, $2)", {std::int64_t{1}, std::string("other")});
  ASSERT_FALSE(same_key.has_value());
  EXPECT_EQ(same_key.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Count("items"), 1);
}

TEST_P(SqlStoreContract, FailedStatementDoomsTheTransaction) {
  Result<void> third = platform::core::Fail(ErrorCode::kInternal, "not run");
  auto r = Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
    EXPECT_TRUE((co_await tx.Execute("INSERT INTO items (id, name) VALUES (1, 'a')")).has_value());
    auto dup = co_await tx.Execute("INSERT INTO items (id, name) VALUES (2, 'a')");
    EXPECT_FALSE(dup.has_value());
    third = Void(co_await tx.Execute("INSERT INTO items (id, name) VALUES (3, 'c')"));
    co_return Result<void>();  // carries on as if nothing happened
  });
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().code, ErrorCode::kAborted);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Count("items"), 0);
}

TEST_P(SqlStoreContract, ReadOnlyTransactionRefusesWrites) {
  auto r = Run("INSERT INTO items (id, name) VALUES (1, 'a')", {}, true);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Count("items"), 0);
}

TEST_P(SqlStoreContract, PlaceholderMismatchIsAnError) {
  auto r = Run("SELECT $1 AS a, $2 AS b", {std::int64_t{1}}, true);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

TEST_P(SqlStoreContract, ConcurrentWritersAllCommit) {
  constexpr int kThreads = 3;
  constexpr int kCoroutines = 4;
  constexpr int kEach = 5;
  std::atomic<int> failures{0};
  auto writer = [&](int thread, int co) -> asio::awaitable<void> {
    for (int i = 0; i < kEach; ++i) {
      const std::int64_t id = (thread * kCoroutines + co) * kEach + i;
      auto r = co_await Store().Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
        SqlParams params{id, "item-" + std::to_string(id)};
        auto a =
            co_await tx.Execute("INSERT INTO items (id, name) VALUES ($1, $2)", std::move(params));
        if (!a) co_return std::unexpected(a.error());
        co_return Void(co_await tx.Execute("UPDATE counter SET n = n + 1 WHERE id = 1"));
      });
      if (!r) {
        ADD_FAILURE() << r.error().internal;
        ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context ctx;
      for (int c = 0; c < kCoroutines; ++c) asio::co_spawn(ctx, writer(t, c), asio::detached);
      ctx.run();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count("items"), kThreads * kCoroutines * kEach);
  auto n = Run("SELECT n FROM counter WHERE id = 1", {}, true);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->rows.at(0).Get<std::int64_t>("n").value(), kThreads * kCoroutines * kEach);
}

TEST_P(SqlStoreContract, ReadersSeeOnlyCommittedData) {
  asio::io_context ctx;
  asio::steady_timer inserted(ctx, asio::steady_timer::time_point::max());
  asio::steady_timer reader_done(ctx, asio::steady_timer::time_point::max());
  std::int64_t seen_during = -1;
  // The writer may finish its INSERT without ever suspending (an adapter that finds the answer
  // already there), before the reader waits: the flag, not only the timer, says it happened.
  bool was_inserted = false;
  Result<void> write_result = platform::core::Fail(ErrorCode::kInternal, "not run");
  Result<void> read_result = platform::core::Fail(ErrorCode::kInternal, "not run");

  auto write = [&]() -> asio::awaitable<void> {
    write_result = co_await Store().Transact({}, [&](SqlTransaction& tx) -> Awaitable<void> {
      auto a = co_await tx.Execute("INSERT INTO items (id, name) VALUES (1, 'pending')");
      was_inserted = true;
      inserted.cancel();
      if (!a) co_return std::unexpected(a.error());
      // Hold the transaction open until the reader has looked.
      boost::system::error_code ec;
      co_await reader_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_return Result<void>();
    });
  };
  auto read = [&]() -> asio::awaitable<void> {
    read_result = co_await Store().Transact(
        TransactionOptions().ReadOnly(), [&](SqlTransaction& tx) -> Awaitable<void> {
          auto r = co_await tx.Execute("SELECT COUNT(*) AS n FROM items");
          if (!r) co_return std::unexpected(r.error());
          seen_during = r->rows.at(0).Get<std::int64_t>("n").value_or(-1);
          co_return Result<void>();
        });
    reader_done.cancel();
  };
  asio::co_spawn(ctx, write(), asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        if (!was_inserted) {
          co_await inserted.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_await read();
      },
      asio::detached);
  ctx.run();
  ASSERT_TRUE(write_result.has_value()) << write_result.error().internal;
  ASSERT_TRUE(read_result.has_value()) << read_result.error().internal;
  EXPECT_EQ(seen_during, 0);
  EXPECT_EQ(Count("items"), 1);
}

TEST_P(SqlStoreContract, PassedDeadlineFailsWithoutRunningTheBody) {
  for (const bool read_only : {false, true}) {
    bool ran = false;
    auto r = Transact(
        TransactionOptions().ReadOnly(read_only).Deadline(Steady::now() - std::chrono::seconds(1)),
        [&](SqlTransaction&) -> Awaitable<void> {
          ran = true;
          co_return Result<void>();
        });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kDeadlineExceeded);
    EXPECT_FALSE(ran);
  }
}

TEST_P(SqlStoreContract, LongQueryIsInterruptedAtTheDeadline) {
  const auto begin = Steady::now();
  Result<void> limited = Transact(
      TransactionOptions().ReadOnly().Deadline(begin + std::chrono::milliseconds(100)),
      [&](SqlTransaction& tx) -> Awaitable<void> {
        co_return Void(co_await tx.Execute(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) "
            "SELECT COUNT(*) AS n FROM c"));
      });
  const auto took = Steady::now() - begin;
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_LT(took, std::chrono::milliseconds(400))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

}  // namespace trellis::tests::contract
