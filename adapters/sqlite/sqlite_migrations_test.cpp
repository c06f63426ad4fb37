// The engine-neutral migration runner (platform/store) against a real SQLite file.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/time_format.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/store/migrations.hpp"
#include "tests/contract/sql_store_contract.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::store {
namespace {

namespace fs = std::filesystem;
using adapters::sqlite::SqliteStore;
using core::ErrorCode;
using core::Result;
using ports::Awaitable;
using ports::SqlTransaction;
using ports::TransactionOptions;
using tests::contract::RunSync;

class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(Dir());
    auto opened = SqliteStore::Open({.path = tmp_.Path() / "m.db"}, clock_, registry_);
    ASSERT_TRUE(opened.has_value()) << opened.error().internal;
    store_ = std::move(*opened);
  }
  fs::path Dir() const { return tmp_.Path() / "migrations"; }
  void Write(const std::string& file, const std::string& text) const {
    std::ofstream(Dir() / file, std::ios::binary) << text;
  }
  Result<MigrateReport> MigrateDir() {
    auto loaded = LoadMigrations(Dir());
    if (!loaded) return std::unexpected(loaded.error());
    return RunSync(Migrate(*store_, *loaded, clock_, {}));
  }
  // Rows of a one-column query, as text.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    auto r = RunSync(store_->Transact(TransactionOptions().ReadOnly(),
                                      [&](SqlTransaction& tx) -> Awaitable<void> {
                                        auto res = co_await tx.Execute(sql);
                                        if (!res) co_return std::unexpected(res.error());
                                        for (const auto& row : res->rows) {
                                          const auto& v = row.Values().at(0);
                                          if (const auto* s = std::get_if<std::string>(&v))
                                            out.push_back(*s);
                                          if (const auto* i = std::get_if<std::int64_t>(&v))
                                            out.push_back(std::to_string(*i));
                                        }
                                        co_return Result<void>();
                                      }));
    EXPECT_TRUE(r.has_value()) << r.error().internal;
    return out;
  }

  tests::support::TempDir tmp_;
  core::ManualClock clock_;
  observe::Registry registry_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(MigrationsTest, AppliesInVersionOrderAndRecordsHistory) {
  // V10 sorts after V2 by number, not by name.
  Write("V10__add_done.sql", "ALTER TABLE tasks ADD COLUMN done INTEGER NOT NULL DEFAULT 0;");
  Write("V1__create_tasks.sql",
        "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n"
        "CREATE INDEX tasks_title ON tasks (title);\n");
  Write("V2__seed.sql", "INSERT INTO tasks (id, title) VALUES (1, 'first');");
  Write("README.md", "not a migration");
  auto report = MigrateDir();
  ASSERT_TRUE(report.has_value()) << report.error().internal;
  EXPECT_EQ(report->applied, (std::vector<std::int64_t>{1, 2, 10}));
  EXPECT_EQ(Column("SELECT description FROM flyway_schema_history ORDER BY installed_rank"),
            (std::vector<std::string>{"create tasks", "seed", "add done"}));
  EXPECT_EQ(
      Column("SELECT script FROM flyway_schema_history ORDER BY installed_rank"),
      (std::vector<std::string>{"V1__create_tasks.sql", "V2__seed.sql", "V10__add_done.sql"}));
  EXPECT_EQ(Column("SELECT done FROM tasks"), std::vector<std::string>{"0"});
  const auto expected_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  EXPECT_EQ(Column("SELECT installed_on FROM flyway_schema_history WHERE version = '1'"),
            std::vector<std::string>{platform::core::FormatRfc3339Ms(expected_ms)});
  EXPECT_EQ(Column("SELECT checksum FROM flyway_schema_history WHERE version = '2'"),
            std::vector<std::string>{std::to_string(
                FlywayChecksum("INSERT INTO tasks (id, title) VALUES (1, 'first');"))});
  EXPECT_EQ(Column("SELECT COUNT(*) FROM flyway_schema_history WHERE success AND type = 'SQL'"),
            std::vector<std::string>{"3"});
}

TEST(FlywayChecksumTest, MatchesFlywaysLineBasedCrc32) {
  // zlib.crc32(b"ab") as a signed 32-bit integer; line terminators and a BOM do not count.
  EXPECT_EQ(FlywayChecksum("a\nb"), -1635563411);
  EXPECT_EQ(FlywayChecksum("a\r\nb\n"), -1635563411);
  EXPECT_EQ(FlywayChecksum("\xEF\xBB\xBF"
                           "a\rb"),
            -1635563411);
  EXPECT_NE(FlywayChecksum("a\nc"), -1635563411);
}

TEST_F(MigrationsTest, RerunIsANoOpAndNewFilesApply) {
  Write("V1__create.sql", "CREATE TABLE t (v INTEGER);");
  ASSERT_TRUE(MigrateDir().has_value());
  auto again = MigrateDir();
  ASSERT_TRUE(again.has_value()) << again.error().internal;
  EXPECT_TRUE(again->applied.empty());
  Write("V2__more.sql", "INSERT INTO t VALUES (7);");
  auto more = MigrateDir();
  ASSERT_TRUE(more.has_value()) << more.error().internal;
  EXPECT_EQ(more->applied, std::vector<std::int64_t>{2});
  EXPECT_EQ(Column("SELECT v FROM t"), std::vector<std::string>{"7"});
}

TEST_F(MigrationsTest, ChangedAppliedFileRefusesToStart) {
  Write("V1__create.sql", "CREATE TABLE t (v INTEGER);");
  ASSERT_TRUE(MigrateDir().has_value());
  Write("V1__create.sql", "CREATE TABLE t (v INTEGER, w INTEGER);");
  Write("V2__more.sql", "CREATE TABLE u (v INTEGER);");
  auto r = MigrateDir();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().internal.find("changed"), std::string::npos) << r.error().internal;
  // Nothing after the check ran.
  EXPECT_EQ(Column("SELECT version FROM flyway_schema_history"), std::vector<std::string>{"1"});
}

TEST_F(MigrationsTest, MissingOrDuplicateVersionsRefuse) {
  Write("V1__a.sql", "CREATE TABLE a (v INTEGER);");
  Write("V2__b.sql", "CREATE TABLE b (v INTEGER);");
  ASSERT_TRUE(MigrateDir().has_value());
  fs::remove(Dir() / "V1__a.sql");
  auto missing = MigrateDir();
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kFailedPrecondition);

  Write("V1__a.sql", "CREATE TABLE a (v INTEGER);");
  Write("V2__again.sql", "SELECT 1;");
  auto duplicate = LoadMigrations(Dir());
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kInvalidArgument);

  fs::remove(Dir() / "V2__again.sql");
  Write("Vx__bad.sql", "SELECT 1;");
  EXPECT_FALSE(LoadMigrations(Dir()).has_value());
}

TEST_F(MigrationsTest, PendingVersionOlderThanAppliedRefuses) {
  Write("V5__late.sql", "CREATE TABLE late (v INTEGER);");
  ASSERT_TRUE(MigrateDir().has_value());
  Write("V3__forgotten.sql", "CREATE TABLE forgotten (v INTEGER);");
  auto r = MigrateDir();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(MigrationsTest, FailingMigrationRollsBackAndLeavesHistoryUnchanged) {
  Write("V1__ok.sql", "CREATE TABLE t (v INTEGER);");
  ASSERT_TRUE(MigrateDir().has_value());
  // The first statement succeeds, the second fails: neither may stay.
  Write("V2__broken.sql", "CREATE TABLE half (v INTEGER);\nINSERT INTO missing VALUES (1);");
  Write("V3__after.sql", "CREATE TABLE after_broken (v INTEGER);");
  auto r = MigrateDir();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().internal.find("V2__broken"), std::string::npos) << r.error().internal;
  EXPECT_EQ(Column("SELECT version FROM flyway_schema_history"), std::vector<std::string>{"1"});
  EXPECT_TRUE(
      Column("SELECT name FROM sqlite_master WHERE name IN ('half', 'after_broken')").empty());
  // Fixed, it applies.
  Write("V2__broken.sql", "CREATE TABLE half (v INTEGER);");
  auto fixed = MigrateDir();
  ASSERT_TRUE(fixed.has_value()) << fixed.error().internal;
  EXPECT_EQ(fixed->applied, (std::vector<std::int64_t>{2, 3}));
}

}  // namespace
}  // namespace trellis::platform::store
