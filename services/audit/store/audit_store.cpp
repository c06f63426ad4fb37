#include "services/audit/store/audit_store.hpp"

#include <string>
#include <utility>

// Generated from services/audit/migrations by trellis_embed_migrations.
std::vector<trellis::platform::store::MigrationFile> TrellisAuditMigrations();
// Generated from services/audit/migrations/postgres.
std::vector<trellis::platform::store::MigrationFile> TrellisAuditPostgresMigrations();

namespace trellis::audit::store {

namespace core = platform::core;
namespace ports = platform::ports;
using ports::SqlParams;

std::vector<platform::store::MigrationFile> Migrations() { return TrellisAuditMigrations(); }
std::vector<platform::store::MigrationFile> PostgresMigrations() {
  return TrellisAuditPostgresMigrations();
}

ports::Awaitable<bool> InsertAuditEvent(ports::SqlTransaction& tx,
                                        const domain::AuditEvent& entry) {
  SqlParams params{entry.org_id,   entry.id,     entry.seq,        entry.occurred_at_ms,
                   entry.actor_id, entry.action, entry.subject_id, entry.payload};
  auto r = co_await tx.Execute(
      "INSERT INTO audit_events (org_id, id, seq, occurred_at_ms, actor_id, action, subject_id, "
      "payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (org_id, id) DO NOTHING",
      std::move(params));
  if (!r) co_return std::unexpected(r.error());
  co_return r->rows_affected > 0;
}

ports::Awaitable<std::vector<domain::AuditEvent>> ListAuditEvents(
    ports::SqlTransaction& tx, const std::string& org_id, const domain::AuditFilter& filter,
    std::optional<std::int64_t> before_seq, int limit) {
  std::string sql =
      "SELECT org_id, id, seq, occurred_at_ms, actor_id, action, subject_id, payload "
      "FROM audit_events WHERE org_id = $1";
  SqlParams params{org_id};
  auto add = [&](std::string_view condition, ports::SqlValue value) {
    params.push_back(std::move(value));
    sql += " AND ";
    sql += condition;
    sql += " $" + std::to_string(params.size());
  };
  if (filter.actor) add("actor_id =", *filter.actor);
  if (filter.action) add("action =", *filter.action);
  if (filter.since_ms) add("occurred_at_ms >=", *filter.since_ms);
  if (filter.until_ms) add("occurred_at_ms <", *filter.until_ms);
  if (before_seq) add("seq <", *before_seq);
  params.emplace_back(static_cast<std::int64_t>(limit));
  sql += " ORDER BY seq DESC LIMIT $" + std::to_string(params.size());

  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  if (!r) co_return std::unexpected(r.error());
  std::vector<domain::AuditEvent> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    domain::AuditEvent e;
    for (auto [column, field] : {std::pair<std::string_view, std::string*>{"org_id", &e.org_id},
                                 {"id", &e.id},
                                 {"actor_id", &e.actor_id},
                                 {"action", &e.action},
                                 {"subject_id", &e.subject_id},
                                 {"payload", &e.payload}}) {
      auto v = row.Get<std::string>(column);
      if (!v) co_return std::unexpected(v.error());
      *field = std::move(*v);
    }
    auto seq = row.Get<std::int64_t>("seq");
    if (!seq) co_return std::unexpected(seq.error());
    e.seq = *seq;
    auto at = row.Get<std::int64_t>("occurred_at_ms");
    if (!at) co_return std::unexpected(at.error());
    e.occurred_at_ms = *at;
    out.push_back(std::move(e));
  }
  co_return out;
}

}  // namespace trellis::audit::store
