#include "platform/store/migrations.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

namespace trellis::platform::store {

namespace asio = boost::asio;
using core::ErrorCode;
using core::Result;
using ports::SqlTransaction;

namespace {

// Portable across SQLite and PostgreSQL; applied_at is Unix milliseconds (UTC).
constexpr const char* kCreateHistory =
    "CREATE TABLE IF NOT EXISTS schema_history ("
    "version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL)";

constexpr const char* kReadHistory = "SELECT version, name, checksum FROM schema_history";
constexpr const char* kFindApplied = "SELECT checksum FROM schema_history WHERE version = $1";
constexpr const char* kRecord =
    "INSERT INTO schema_history (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)";

std::string MigrationName(const Migration& m) {
  return "V" + std::to_string(m.version) + "__" + m.name;
}

struct Applied {
  std::string name;
  std::string checksum;
};

Result<std::map<std::int64_t, Applied>> ReadHistory(const ports::SqlResult& result) {
  std::map<std::int64_t, Applied> history;
  for (const auto& row : result.rows) {
    auto version = row.Get<std::int64_t>("version");
    auto name = row.Get<std::string>("name");
    auto checksum = row.Get<std::string>("checksum");
    if (!version) return std::unexpected(version.error());
    if (!name) return std::unexpected(name.error());
    if (!checksum) return std::unexpected(checksum.error());
    history.emplace(*version, Applied{std::move(*name), std::move(*checksum)});
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
          "applied migration V" + std::to_string(version) + "__" + applied.name + " has no file");
    }
    if (it->second->checksum != applied.checksum) {
      return core::Fail(ErrorCode::kFailedPrecondition, "schema migrations are inconsistent",
                        "applied migration V" + std::to_string(version) + "__" + applied.name +
                            " changed: checksum " + it->second->checksum + ", recorded " +
                            applied.checksum);
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
  // Parameters are built outside co_await: g++ 12 cannot keep an initializer_list's array
  // alive across a suspension ("array used as initializer").
  ports::SqlParams find{m.version};
  auto seen = co_await tx.Execute(kFindApplied, std::move(find));
  if (!seen) co_return std::unexpected(seen.error());
  if (!seen->rows.empty()) co_return Result<void>();
  if (auto ran = co_await tx.ExecuteScript(m.sql); !ran) {
    core::Error error = ran.error();
    error.internal = MigrationName(m) + ": " + error.internal;
    co_return std::unexpected(std::move(error));
  }
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
  ports::SqlParams record{m.version, m.name, m.checksum, now_ms};
  auto recorded = co_await tx.Execute(kRecord, std::move(record));
  if (!recorded) co_return std::unexpected(recorded.error());
  applied = true;
  co_return Result<void>();
}

}  // namespace

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
  std::vector<Migration> out;
  for (const auto& entry : it) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    const std::string file = entry.path().filename().string();
    const std::string stem = entry.path().stem().string();
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
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return core::Fail(ErrorCode::kInvalidArgument, "cannot read a migration", file);
    }
    Migration m;
    m.version = version;
    m.name = stem.substr(sep + 2);
    m.sql = std::move(text).str();
    m.checksum = Sha256Hex(m.sql);
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
  auto checked =
      co_await store.Transact(ports::TransactionOptions().Deadline(options.deadline),
                              [&](SqlTransaction& tx) -> ports::Awaitable<void> {
                                if (auto created = co_await tx.Execute(kCreateHistory); !created) {
                                  co_return std::unexpected(created.error());
                                }
                                auto rows = co_await tx.Execute(kReadHistory);
                                if (!rows) co_return std::unexpected(rows.error());
                                auto read = ReadHistory(*rows);
                                if (!read) co_return std::unexpected(read.error());
                                history = std::move(*read);
                                co_return Validate(migrations, history);
                              });
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

}  // namespace trellis::platform::store
