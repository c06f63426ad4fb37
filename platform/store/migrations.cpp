#include "platform/store/migrations.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/crc.hpp>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "platform/core/time_format.hpp"

namespace trellis::platform::store {

namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;
using ports::SqlTransaction;

namespace {

// Flyway's history table (same name and columns), so operators' Flyway-aware tooling reads
// it; installed_on is RFC 3339 UTC text, which both engines store without conversion.
constexpr const char* kCreateHistory =
    "CREATE TABLE IF NOT EXISTS flyway_schema_history ("
    "installed_rank INTEGER NOT NULL PRIMARY KEY, version VARCHAR(50), "
    "description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, "
    "checksum INTEGER, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL, "
    "execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL)";
// PostgreSQL: Flyway's own DDL for PostgreSQL (installed_on a TIMESTAMP, the success index).
// Unqualified: it lands in the schema of the migrating connection's search_path, so each
// context schema has its own history.
constexpr const char* kCreateHistoryPostgres =
    "CREATE TABLE IF NOT EXISTS flyway_schema_history ("
    "installed_rank INTEGER NOT NULL, version VARCHAR(50), description VARCHAR(200) NOT NULL, "
    "type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INTEGER, "
    "installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), "
    "execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL, "
    "CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank))";
constexpr const char* kCreateHistoryIndexPostgres =
    "CREATE INDEX IF NOT EXISTS flyway_schema_history_s_idx ON flyway_schema_history (success)";
// The schema's default privileges (deploy/postgres/bootstrap.sql) give the context's app role
// DML on every table the migrator creates, this one included; the app role only reads it
// (CheckMigrated), so the migrator takes the writes back from everyone but itself.
constexpr const char* kRevokeHistoryWritesPostgres = R"sql(
DO $$
DECLARE grantee_role text;
BEGIN
  FOR grantee_role IN
    SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
     WHERE g.table_schema = current_schema() AND g.table_name = 'flyway_schema_history'
       AND g.grantee NOT IN (current_user, 'PUBLIC') AND g.privilege_type <> 'SELECT'
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER '
                   'ON flyway_schema_history FROM %I', grantee_role);
  END LOOP;
END
$$)sql";

// Taken at the start of every migration transaction on PostgreSQL and held to its end, so
// that two `trellis migrate` runs (or two starting replicas) cannot interleave: the second
// waits, then finds the first's history rows and skips what is applied. One key for the
// whole database ("trellis" in ASCII); migrations are rare enough that contexts may queue.
constexpr std::int64_t kMigrationLockKey = 0x7472656c6c6973;

constexpr const char* kReadHistory =
    "SELECT version, description, checksum FROM flyway_schema_history WHERE success";
constexpr const char* kFindApplied =
    "SELECT checksum FROM flyway_schema_history WHERE version = $1";
constexpr const char* kRecord =
    "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, "
    "checksum, installed_by, installed_on, execution_time, success) "
    "VALUES ((SELECT COALESCE(MAX(installed_rank), 0) + 1 FROM flyway_schema_history), $1, $2, "
    "'SQL', $3, $4, 'trellis', $5, $6, TRUE)";
// The RFC 3339 UTC text becomes Flyway's TIMESTAMP (UTC, like Flyway's own rows).
constexpr const char* kRecordPostgres =
    "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, "
    "checksum, installed_by, installed_on, execution_time, success) "
    "VALUES ((SELECT COALESCE(MAX(installed_rank), 0) + 1 FROM flyway_schema_history), $1, $2, "
    "'SQL', $3, $4, 'trellis', CAST($5 AS TIMESTAMPTZ) AT TIME ZONE 'UTC', $6, TRUE)";

bool IsPostgres(const SqlTransaction& tx) { return tx.Dialect() == ports::SqlDialect::kPostgres; }

// Serializes migration transactions across processes (PostgreSQL only; SQLite's write lock
// already does).
ports::Awaitable<void> LockMigrations(SqlTransaction& tx) {
  if (!IsPostgres(tx)) co_return Result<void>();
  ports::SqlParams key{kMigrationLockKey};
  auto locked = co_await tx.Execute("SELECT pg_advisory_xact_lock($1)", std::move(key));
  co_return ports::Void(locked);
}

// Flyway shows the name with spaces for underscores.
std::string Description(const Migration& m) {
  std::string d = m.name;
  std::replace(d.begin(), d.end(), '_', ' ');
  return d;
}

std::string MigrationName(const Migration& m) {
  return "V" + std::to_string(m.version) + "__" + m.name;
}

struct Applied {
  std::string name;
  std::int64_t checksum = 0;
};

Result<std::map<std::int64_t, Applied>> ReadHistory(const ports::SqlResult& result) {
  std::map<std::int64_t, Applied> history;
  for (const auto& row : result.rows) {
    auto version_text = row.Get<std::string>("version");
    auto name = row.Get<std::string>("description");
    auto checksum = row.Get<std::int64_t>("checksum");
    if (!version_text) return std::unexpected(version_text.error());
    if (!name) return std::unexpected(name.error());
    if (!checksum) return std::unexpected(checksum.error());
    std::int64_t version = 0;
    const auto* end = version_text->data() + version_text->size();
    if (std::from_chars(version_text->data(), end, version).ptr != end) {
      return core::Fail(ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
                        "flyway_schema_history has version " + *version_text);
    }
    history.emplace(version, Applied{std::move(*name), *checksum});
  }
  return history;
}

Result<void> Validate(const std::vector<Migration>& migrations,
                      const std::map<std::int64_t, Applied>& history) {
  std::map<std::int64_t, const Migration*> files;
  for (const auto& m : migrations) {
    if (!files.emplace(m.version, &m).second) {
      return core::Fail(ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
                        "migration version " + std::to_string(m.version) + " is duplicated");
    }
  }
  for (const auto& [version, applied] : history) {
    auto it = files.find(version);
    if (it == files.end()) {
      return core::Fail(
          ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
          "applied migration V" + std::to_string(version) + " (" + applied.name + ") has no file");
    }
    if (it->second->checksum != applied.checksum) {
      return core::Fail(ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
                        "applied migration " + MigrationName(*it->second) + " changed: checksum " +
                            std::to_string(it->second->checksum) + ", recorded " +
                            std::to_string(applied.checksum));
    }
  }
  if (!history.empty()) {
    const std::int64_t newest = history.rbegin()->first;
    for (const auto& [version, m] : files) {
      if (version < newest && !history.contains(version)) {
        return core::Fail(ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
                          "migration V" + std::to_string(version) + "__" + m->name +
                              " is older than the newest applied (V" + std::to_string(newest) +
                              ")");
      }
    }
  }
  return {};
}

// Runs one migration and records it, unless another process has applied it meanwhile.
ports::Awaitable<void> ApplyOne(SqlTransaction& tx, const Migration& m, const core::Clock& clock,
                                bool& applied) {
  auto locked = co_await LockMigrations(tx);
  if (!locked) co_return locked;
  // Parameters are built outside co_await: g++ 12 cannot keep an initializer_list's array
  // alive across a suspension ("array used as initializer").
  ports::SqlParams find{std::to_string(m.version)};
  auto seen = co_await tx.Execute(kFindApplied, std::move(find));
  if (!seen) co_return std::unexpected(seen.error());
  if (!seen->rows.empty()) co_return Result<void>();
  const auto started = clock.Monotonic();
  if (auto ran = co_await tx.ExecuteScript(m.sql); !ran) {
    core::Error error = ran.error();
    error.internal = MigrationName(m) + ": " + error.internal;
    co_return std::unexpected(std::move(error));
  }
  const auto to_ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  const std::int64_t now_ms = to_ms(clock.Now().time_since_epoch());
  const std::int64_t took_ms = to_ms(clock.Monotonic() - started);
  ports::SqlParams record{std::to_string(m.version),     Description(m),
                          MigrationName(m) + ".sql",     std::int64_t{m.checksum},
                          core::FormatRfc3339Ms(now_ms), took_ms};
  std::string record_sql = IsPostgres(tx) ? kRecordPostgres : kRecord;
  auto recorded = co_await tx.Execute(std::move(record_sql), std::move(record));
  if (!recorded) co_return std::unexpected(recorded.error());
  applied = true;
  co_return Result<void>();
}

// Creates the history table if needed, reads it into `history` and checks the files against it.
ports::Awaitable<void> ReadAndValidate(SqlTransaction& tx, const std::vector<Migration>& migrations,
                                       std::map<std::int64_t, Applied>& history) {
  auto locked = co_await LockMigrations(tx);
  if (!locked) co_return locked;
  std::string create = IsPostgres(tx) ? kCreateHistoryPostgres : kCreateHistory;
  auto created = co_await tx.Execute(std::move(create));
  if (!created) co_return std::unexpected(created.error());
  if (IsPostgres(tx)) {
    auto indexed = co_await tx.Execute(kCreateHistoryIndexPostgres);
    if (!indexed) co_return std::unexpected(indexed.error());
    auto revoked = co_await tx.Execute(kRevokeHistoryWritesPostgres);
    if (!revoked) co_return std::unexpected(revoked.error());
  }
  auto rows = co_await tx.Execute(kReadHistory);
  if (!rows) co_return std::unexpected(rows.error());
  auto read = ReadHistory(*rows);
  if (!read) co_return std::unexpected(read.error());
  history = std::move(*read);
  co_return Validate(migrations, history);
}

}  // namespace

std::int32_t FlywayChecksum(std::string_view text) {
  // Flyway's ChecksumCalculator: CRC-32 over the lines' UTF-8 bytes without their terminators
  // (so CRLF and LF checkouts agree), a leading BOM dropped.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  boost::crc_32_type crc;
  while (!text.empty()) {
    std::size_t eol = text.find_first_of("\r\n");
    std::string_view line = text.substr(0, eol);
    crc.process_bytes(line.data(), line.size());
    if (eol == std::string_view::npos) break;
    text.remove_prefix(
        eol + ((text[eol] == '\r' && eol + 1 < text.size() && text[eol + 1] == '\n') ? 2 : 1));
  }
  return static_cast<std::int32_t>(crc.checksum());
}

std::string Sha256Hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{size} * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

Result<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    return core::Fail(ErrorCode::kInvalidArgument, "cannot read the migrations directory",
                      dir.string() + ": " + ec.message());
  }
  std::vector<MigrationFile> files;
  for (const auto& entry : it) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return core::Fail(ErrorCode::kInvalidArgument, "cannot read a migration",
                        entry.path().filename().string());
    }
    files.push_back({entry.path().filename().string(), std::move(text).str()});
  }
  return ParseMigrations(files);
}

Result<std::vector<Migration>> ParseMigrations(const std::vector<MigrationFile>& files) {
  std::vector<Migration> out;
  for (const auto& [file, text] : files) {
    if (!file.ends_with(".sql")) continue;
    const std::string stem = file.substr(0, file.size() - 4);
    const auto sep = stem.find("__");
    std::int64_t version = 0;
    const char* digits = stem.data() + 1;
    const char* digits_end = stem.data() + (sep == std::string::npos ? 0 : sep);
    const auto [end, parse] = std::from_chars(digits, std::max(digits, digits_end), version);
    if (stem.empty() || stem[0] != 'V' || sep == std::string::npos || sep + 2 >= stem.size() ||
        parse != std::errc() || end != digits_end || version <= 0) {
      return core::Fail(ErrorCode::kInvalidArgument, "bad migration file name",
                        file + " is not V<n>__<name>.sql");
    }
    Migration m;
    m.version = version;
    m.name = stem.substr(sep + 2);
    m.sql = text;
    m.checksum = FlywayChecksum(m.sql);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return core::Fail(
          ErrorCode::kInvalidArgument, "duplicate migration version",
          "V" + std::to_string(out[i].version) + ": " + out[i - 1].name + " and " + out[i].name);
    }
  }
  return out;
}

asio::awaitable<Result<MigrateReport>> Migrate(ports::SqlStore& store,
                                               const std::vector<Migration>& migrations,
                                               const core::Clock& clock, MigrateOptions options) {
  std::map<std::int64_t, Applied> history;
  auto checked = co_await store.Transact(
      ports::TransactionOptions().Deadline(options.deadline),
      [&](SqlTransaction& tx) { return ReadAndValidate(tx, migrations, history); });
  if (!checked) co_return std::unexpected(checked.error());

  MigrateReport report;
  for (const auto& m : migrations) {
    if (history.contains(m.version)) continue;
    bool applied = false;
    auto done = co_await store.Transact(
        ports::TransactionOptions().Deadline(options.deadline),
        [&](SqlTransaction& tx) { return ApplyOne(tx, m, clock, applied); });
    if (!done) co_return std::unexpected(done.error());
    if (applied) report.applied.push_back(m.version);
  }
  co_return report;
}

asio::awaitable<Result<void>> CheckMigrated(ports::SqlStore& store,
                                            const std::vector<Migration>& migrations,
                                            MigrateOptions options) {
  std::map<std::int64_t, Applied> history;
  auto checked = co_await store.Transact(
      ports::TransactionOptions().ReadOnly().Deadline(options.deadline),
      [&](SqlTransaction& tx) -> ports::Awaitable<void> {
        auto rows = co_await tx.Execute(kReadHistory);
        // Unavailable, deadline: as they are. Anything else: no (readable) history table.
        if (!rows && (rows.error().code == ErrorCode::kUnavailable ||
                      rows.error().code == ErrorCode::kDeadlineExceeded)) {
          co_return std::unexpected(rows.error());
        }
        if (!rows) {
          co_return core::Fail(ErrorCode::kFailedPrecondition,
                               "the schema has no migration history: run `trellis migrate`",
                               rows.error().internal);
        }
        auto read = ReadHistory(*rows);
        if (!read) co_return std::unexpected(read.error());
        history = std::move(*read);
        co_return Validate(migrations, history);
      });
  if (!checked) co_return std::unexpected(checked.error());
  std::string pending;
  for (const auto& m : migrations) {
    if (history.contains(m.version)) continue;
    if (!pending.empty()) pending += ", ";
    pending += "V" + std::to_string(m.version) + "__" + m.name;
  }
  if (!pending.empty()) {
    co_return core::Fail(ErrorCode::kFailedPrecondition,
                         "migrations are pending: run `trellis migrate`", pending);
  }
  co_return Result<void>();
}

}  // namespace trellis::platform::store
