#include "adapters/sqlite/sqlite_event_log.hpp"

#include <chrono>
#include <string>
#include <utility>

#include "platform/events/outbox.hpp"
#include "platform/store/migrations.hpp"

// Generated from adapters/sqlite/migrations/event_log by trellis_embed_migrations.
std::vector<trellis::platform::store::MigrationFile> TrellisEventLogMigrations();

namespace trellis::adapters::sqlite {

namespace asio = boost::asio;
namespace core = platform::core;
namespace ports = platform::ports;
using platform::events::DomainEvent;

namespace {

constexpr std::string_view kColumns =
    "log_offset, event_id, type, org_id, actor_id, subject_id, payload, occurred_at_ms, audience";

std::int64_t UnixMs(const core::Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

}  // namespace

SqliteEventLog::SqliteEventLog(std::unique_ptr<SqliteStore> store, const core::Clock& clock,
                               platform::observe::Registry& metrics)
    : store_(std::move(store)),
      clock_(clock),
      appended_(metrics.AddCounter("trellis_event_log_appended_total",
                                   "Events appended to the event log.", {})),
      duplicates_(metrics.AddCounter("trellis_event_log_duplicates_total",
                                     "Re-appended events the log already held (skipped).", {})) {}

asio::awaitable<core::Result<std::unique_ptr<SqliteEventLog>>> SqliteEventLog::Open(
    EventLogSettings settings, const core::Clock& clock, platform::observe::Registry& metrics) {
  auto migrations = platform::store::ParseMigrations(TrellisEventLogMigrations());
  if (!migrations) co_return std::unexpected(migrations.error());
  Settings store_settings;
  store_settings.path = settings.path;
  store_settings.name = "events";
  store_settings.readers = settings.readers;
  auto store = SqliteStore::Open(std::move(store_settings), clock, metrics);
  if (!store) co_return std::unexpected(store.error());
  auto migrated = co_await platform::store::Migrate(**store, *migrations, clock,
                                                    platform::store::MigrateOptions{});
  if (!migrated) co_return std::unexpected(migrated.error());

  std::int64_t last = 0;
  auto read = co_await (*store)->Transact(
      ports::TransactionOptions().ReadOnly(),
      [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        auto r = co_await tx.Execute("SELECT coalesce(max(log_offset), 0) AS last FROM event_log");
        if (!r) co_return std::unexpected(r.error());
        auto v = r->rows.at(0).Get<std::int64_t>("last");
        if (!v) co_return std::unexpected(v.error());
        last = *v;
        co_return core::Result<void>();
      });
  if (!read) co_return std::unexpected(read.error());
  std::unique_ptr<SqliteEventLog> log(new SqliteEventLog(std::move(*store), clock, metrics));
  log->signal_.Advance(last);
  co_return log;
}

ports::LogAwaitable<void> SqliteEventLog::Append(std::vector<DomainEvent> events) {
  if (events.empty()) co_return core::Result<void>();
  const std::int64_t now_ms = UnixMs(clock_);
  std::int64_t inserted = 0;
  std::int64_t last = 0;
  auto done = co_await store_->Transact(
      ports::TransactionOptions(), [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        for (const auto& e : events) {
          ports::SqlParams params{
              e.id,         e.type,    e.org_id,         e.actor_id,
              e.subject_id, e.payload, e.occurred_at_ms, std::string(core::RoleName(e.audience)),
              now_ms};
          auto r = co_await tx.Execute(
              // Not ON CONFLICT DO NOTHING: an upsert that does nothing still consumes an
              // AUTOINCREMENT value, and a re-append would leave a gap in the offsets.
              "INSERT INTO event_log (event_id, type, org_id, actor_id, subject_id, payload, "
              "occurred_at_ms, audience, appended_at_ms) SELECT $1, $2, $3, $4, $5, $6, $7, $8, "
              "$9 WHERE NOT EXISTS (SELECT 1 FROM event_log WHERE event_id = $1)",
              std::move(params));
          if (!r) co_return std::unexpected(r.error());
          inserted += r->rows_affected;
        }
        auto r = co_await tx.Execute("SELECT coalesce(max(log_offset), 0) AS last FROM event_log");
        if (!r) co_return std::unexpected(r.error());
        auto v = r->rows.at(0).Get<std::int64_t>("last");
        if (!v) co_return std::unexpected(v.error());
        last = *v;
        co_return core::Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  appended_.Inc(static_cast<std::uint64_t>(inserted));
  duplicates_.Inc(events.size() - static_cast<std::uint64_t>(inserted));
  signal_.Advance(last);
  co_return core::Result<void>();
}

ports::LogAwaitable<std::vector<DomainEvent>> SqliteEventLog::Read(
    std::int64_t after_offset, std::size_t limit, std::optional<std::string> org_id) {
  std::vector<DomainEvent> out;
  auto done =
      co_await store_->Transact(ports::TransactionOptions().ReadOnly(),
                                [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                  std::string sql = "SELECT ";
                                  sql += kColumns;
                                  sql += " FROM event_log WHERE log_offset > $1";
                                  ports::SqlParams params{after_offset};
                                  if (org_id) {
                                    sql += " AND org_id = $2 ORDER BY log_offset LIMIT $3";
                                    params.emplace_back(*org_id);
                                  } else {
                                    sql += " ORDER BY log_offset LIMIT $2";
                                  }
                                  params.emplace_back(static_cast<std::int64_t>(limit));
                                  auto r = co_await tx.Execute(std::move(sql), std::move(params));
                                  if (!r) co_return std::unexpected(r.error());
                                  out.reserve(r->rows.size());
                                  for (const auto& row : r->rows) {
                                    auto e = platform::events::EventFromRow(row);
                                    if (!e) co_return std::unexpected(e.error());
                                    auto offset = row.Get<std::int64_t>("log_offset");
                                    if (!offset) co_return std::unexpected(offset.error());
                                    e->offset = *offset;
                                    out.push_back(std::move(*e));
                                  }
                                  co_return core::Result<void>();
                                });
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

ports::LogAwaitable<void> SqliteEventLog::CommitOffset(std::string group, std::int64_t offset) {
  const std::int64_t now_ms = UnixMs(clock_);
  co_return co_await store_->Transact(
      ports::TransactionOptions(), [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        // Offsets only move forward: a late, stale commit cannot rewind a group.
        ports::SqlParams params{group, offset, now_ms};
        auto r = co_await tx.Execute(
            "INSERT INTO consumer_offsets (group_name, committed_offset, updated_at_ms) "
            "VALUES ($1, $2, $3) ON CONFLICT (group_name) DO UPDATE SET committed_offset = "
            "max(committed_offset, excluded.committed_offset), updated_at_ms = "
            "excluded.updated_at_ms",
            std::move(params));
        co_return ports::Void(r);
      });
}

ports::LogAwaitable<std::int64_t> SqliteEventLog::CommittedOffset(std::string group) {
  std::int64_t committed = 0;
  auto done = co_await store_->Transact(
      ports::TransactionOptions().ReadOnly(),
      [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        ports::SqlParams params{group};
        auto r = co_await tx.Execute(
            "SELECT committed_offset FROM consumer_offsets WHERE group_name = $1",
            std::move(params));
        if (!r) co_return std::unexpected(r.error());
        if (!r->rows.empty()) {
          auto v = r->rows[0].Get<std::int64_t>("committed_offset");
          if (!v) co_return std::unexpected(v.error());
          committed = *v;
        }
        co_return core::Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_return committed;
}

asio::awaitable<std::int64_t> SqliteEventLog::WaitForAppend(std::int64_t after_offset,
                                                            std::chrono::milliseconds timeout) {
  co_return co_await signal_.Wait(after_offset, timeout);
}

}  // namespace trellis::adapters::sqlite
