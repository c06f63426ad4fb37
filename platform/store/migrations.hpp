// Flyway-style schema migrations over the SQL store port, for any engine.
//
// A directory holds V<n>__<name>.sql files; each pending one runs in its own transaction and
// is recorded in flyway_schema_history (Flyway's table and columns, Flyway's CRC-32 checksum).
// Start-up is
// refused when an applied file changed or went missing, or a version is duplicated.
// On PostgreSQL the history table has Flyway's PostgreSQL types and lands in the schema the
// migrating connection's search_path names (one history per context schema), and every
// migration transaction first takes a transaction-scoped advisory lock, so that concurrent
// runs queue instead of interleaving (docs/adr/0013-postgres-schemas-roles-rls.md).
//
//   auto migrations = LoadMigrations("services/work/migrations");
//   auto report = co_await Migrate(store, *migrations, clock, {});
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::platform::store {

struct Migration {
  std::int64_t version = 0;
  std::string name;           // from the file name, after "__", without ".sql"
  std::string sql;            // the file's text
  std::int32_t checksum = 0;  // Flyway's checksum of sql (FlywayChecksum)
};

// A migration file's name ("V1__init.sql") and text, as read from disk or compiled into the
// binary (cmake/trellis.cmake: trellis_embed_migrations).
struct MigrationFile {
  std::string name;
  std::string text;
};

// Reads V<n>__<name>.sql files, sorted by version. kInvalidArgument for a .sql file whose name
// does not follow the pattern or for two files with one version; other files are ignored.
[[nodiscard]] core::Result<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir);

// As LoadMigrations, from files already in memory; names not ending in .sql are ignored.
[[nodiscard]] core::Result<std::vector<Migration>> ParseMigrations(
    const std::vector<MigrationFile>& files);

// Flyway's checksum of a migration's text: CRC-32 of its lines, terminators excluded.
[[nodiscard]] std::int32_t FlywayChecksum(std::string_view text);

// Lower-case hex SHA-256 of text.
[[nodiscard]] std::string Sha256Hex(std::string_view text);

struct MigrateReport {
  std::vector<std::int64_t> applied;  // versions applied by this run, in order
};

struct MigrateOptions {
  // The deadline of each transaction the runner opens; none by default.
  core::Clock::MonoTime deadline = core::Clock::MonoTime::max();
};

// Applies the pending migrations in version order. kFailedPrecondition, touching nothing, when
// an applied migration's checksum differs, an applied version has no file, or a pending
// version is older than the newest applied one. A failing migration rolls back (its history
// row with it) and stops the run with that error.
[[nodiscard]] boost::asio::awaitable<core::Result<MigrateReport>> Migrate(
    ports::SqlStore& store, const std::vector<Migration>& migrations, const core::Clock& clock,
    MigrateOptions options);

// For a process that may not migrate (PostgreSQL app roles own nothing): succeeds when every
// migration is applied and unchanged; kFailedPrecondition, naming what is pending, when
// `trellis migrate` has not run, or as Migrate would refuse. Reads only.
[[nodiscard]] boost::asio::awaitable<core::Result<void>> CheckMigrated(
    ports::SqlStore& store, const std::vector<Migration>& migrations, MigrateOptions options);

}  // namespace trellis::platform::store
