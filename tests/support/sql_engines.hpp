// One store suite, two engines: a fresh, migrated store for one bounded context on SQLite or on
// PostgreSQL, for tests parameterized over the engine.
//
//   class FooTest : public ::testing::TestWithParam<SqlEngine> { ... };
//   auto db = EngineStore::Open(GetParam(), SqlContext::kWork);
//   co_await db->Store().Transact(TransactionOptions().Org("org-a"), body);   // as trellis_work
//   db->Psql("SELECT count(*) FROM tasks");            // PostgreSQL: superuser, sees through RLS
//   INSTANTIATE_TEST_SUITE_P(, FooTest, AllSqlEngines(), SqlEngineName);
//
// SQLite: a TempDir file with the context's SQLite migrations applied. PostgreSQL: one cluster
// per test process (started on first use, stopped at exit), and per EngineStore a fresh database
// set up as an operator would (deploy/postgres/bootstrap.sql as the superuser, with passwords),
// the context's PostgreSQL migrations applied through platform::store::Migrate over a PgStore as
// trellis_migrator (search_path = the context's schema), then a PgStore as the context's app role
// trellis_<ctx> (search_path = ctx) handed to the test: every transaction it runs is under
// row-level security, so it must carry its org (TransactionOptions::Org) and settings.
// Migrations are the ones compiled into the product (trellis_embed_migrations).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/sql_store.hpp"
#include "platform/store/migrations.hpp"
#include "tests/support/postgres_cluster.hpp"

namespace trellis::adapters::postgres {
struct Settings;
class PgStore;
}  // namespace trellis::adapters::postgres

namespace trellis::tests::support {

enum class SqlEngine { kSqlite, kPostgres };
enum class SqlContext { kIdentity, kWork, kAudit, kEdge };

// "Sqlite" / "Postgres": the instantiation names (FooTest/Postgres.Case).
[[nodiscard]] std::string SqlEngineName(const ::testing::TestParamInfo<SqlEngine>& info);
[[nodiscard]] inline auto AllSqlEngines() {
  return ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres);
}
// "identity", "work", "audit", "edge": the schema, and the role's suffix (trellis_<ctx>).
[[nodiscard]] std::string SqlContextName(SqlContext context);
// The context's migrations for the engine, as compiled into the product.
[[nodiscard]] std::vector<platform::store::MigrationFile> SqlContextMigrations(SqlEngine engine,
                                                                               SqlContext context);

// The PostgreSQL side, for tests that need more than one store of a database (a pool of their
// own size, a second role): one cluster per process and a bootstrapped database. Stores opened
// here report to its Registry(): destroy them before it.
class PostgresDatabase {
 public:
  // The roles bootstrap.sql creates; the password of each is "<role>-test-password".
  static constexpr const char* kMigrator = "trellis_migrator";
  // A fresh database with bootstrap.sql run on it (no migrations yet).
  PostgresDatabase();
  // The process's cluster, started on first use, stopped at exit.
  static PostgresCluster& Cluster();
  [[nodiscard]] const std::string& Name() const { return name_; }
  [[nodiscard]] static std::string Password(const std::string& role);
  // Applies the context's PostgreSQL migrations as trellis_migrator; throws on failure.
  void Migrate(SqlContext context);
  // A PgStore logged in as `role` with search_path = the context's schema, on `executor`
  // (which must outlive it; HomeExecutor() when null). `max_connections` bounds its pool.
  [[nodiscard]] std::unique_ptr<adapters::postgres::PgStore> Open(
      const std::string& role, SqlContext context, std::size_t max_connections = 4,
      const boost::asio::any_io_executor* executor = nullptr);
  // The same with an explicit password (the superuser: PostgresCluster::kSuperuser and
  // Cluster().SuperuserPassword(); it bypasses row-level security).
  [[nodiscard]] std::unique_ptr<adapters::postgres::PgStore> OpenWith(
      const std::string& user, const std::string& password, SqlContext context,
      std::size_t max_connections = 4, const boost::asio::any_io_executor* executor = nullptr);
  // psql as the superuser on this database (sees through row-level security); returns psql's
  // unaligned output; throws std::runtime_error on failure.
  std::string Psql(const std::string& sql) const;
  // An io_context that lives as long as the process, never run: the executor PgStore::Open
  // needs for its background work; transactions run on the caller's executor.
  static boost::asio::any_io_executor HomeExecutor();
  platform::observe::Registry& Registry() { return registry_; }

 private:
  std::string name_;
  platform::observe::Registry registry_;
};

// A fresh migrated store for one context on one engine.
class EngineStore {
 public:
  // Throws std::runtime_error when the engine cannot be set up.
  [[nodiscard]] static std::unique_ptr<EngineStore> Open(SqlEngine engine, SqlContext context);
  virtual ~EngineStore() = default;
  EngineStore(const EngineStore&) = delete;
  EngineStore& operator=(const EngineStore&) = delete;

  [[nodiscard]] SqlEngine Engine() const { return engine_; }
  [[nodiscard]] bool IsPostgres() const { return engine_ == SqlEngine::kPostgres; }
  [[nodiscard]] SqlContext Context() const { return context_; }
  // As the context's app role on PostgreSQL (under RLS); the only connection on SQLite.
  [[nodiscard]] virtual platform::ports::SqlStore& Store() = 0;
  // PostgreSQL only: psql as the superuser on this database with search_path = the context's
  // schema, so unqualified names resolve as the store's do; throws on SQLite.
  virtual std::string Psql(const std::string& sql) const = 0;

 protected:
  EngineStore(SqlEngine engine, SqlContext context) : engine_(engine), context_(context) {}

 private:
  SqlEngine engine_;
  SqlContext context_;
};

}  // namespace trellis::tests::support
