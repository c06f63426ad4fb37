#include "platform/events/outbox.hpp"

#include <string>
#include <utility>

namespace trellis::platform::events {

namespace {

using core::Result;
using ports::SqlParams;

}  // namespace

ports::Awaitable<void> AppendToOutbox(ports::SqlTransaction& tx, const DomainEvent& event) {
  SqlParams params{event.id,
                   event.type,
                   event.org_id,
                   event.actor_id,
                   event.subject_id,
                   event.payload,
                   event.occurred_at_ms,
                   std::string(core::RoleName(event.audience))};
  auto done = co_await tx.Execute(
      "INSERT INTO outbox (event_id, type, org_id, actor_id, subject_id, payload, "
      "occurred_at_ms, audience) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      std::move(params));
  co_return ports::Void(done);
}

ports::Awaitable<std::vector<OutboxEntry>> ReadOutbox(ports::SqlTransaction& tx,
                                                      std::size_t limit) {
  SqlParams params{static_cast<std::int64_t>(limit)};
  auto rows = co_await tx.Execute(
      "SELECT seq, event_id, type, org_id, actor_id, subject_id, payload, occurred_at_ms, "
      "audience FROM outbox ORDER BY seq LIMIT $1",
      std::move(params));
  if (!rows) co_return std::unexpected(rows.error());
  std::vector<OutboxEntry> out;
  out.reserve(rows->rows.size());
  for (const auto& row : rows->rows) {
    auto seq = row.Get<std::int64_t>("seq");
    if (!seq) co_return std::unexpected(seq.error());
    auto event = EventFromRow(row);
    if (!event) co_return std::unexpected(event.error());
    OutboxEntry entry;
    entry.seq = *seq;
    entry.event = std::move(*event);
    out.push_back(std::move(entry));
  }
  co_return out;
}

ports::Awaitable<void> DeleteFromOutbox(ports::SqlTransaction& tx,
                                        const std::vector<std::int64_t>& seqs) {
  if (seqs.empty()) co_return Result<void>();
  std::string sql = "DELETE FROM outbox WHERE seq IN (";
  SqlParams params;
  params.reserve(seqs.size());
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += "$" + std::to_string(i + 1);
    params.emplace_back(seqs[i]);
  }
  sql += ")";
  auto done = co_await tx.Execute(std::move(sql), std::move(params));
  co_return ports::Void(done);
}

Result<DomainEvent> EventFromRow(const ports::SqlRow& row) {
  DomainEvent e;
  auto text = [&](std::string_view column, std::string& out) -> Result<void> {
    auto v = row.Get<std::string>(column);
    if (!v) return std::unexpected(v.error());
    out = std::move(*v);
    return {};
  };
  for (auto [column, field] : {std::pair<std::string_view, std::string*>{"event_id", &e.id},
                               {"type", &e.type},
                               {"org_id", &e.org_id},
                               {"actor_id", &e.actor_id},
                               {"subject_id", &e.subject_id},
                               {"payload", &e.payload}}) {
    if (auto r = text(column, *field); !r) return std::unexpected(r.error());
  }
  auto at = row.Get<std::int64_t>("occurred_at_ms");
  if (!at) return std::unexpected(at.error());
  e.occurred_at_ms = *at;
  auto audience = row.Get<std::string>("audience");
  if (!audience) return std::unexpected(audience.error());
  e.audience = core::ParseRole(*audience).value_or(core::Role::kOwner);
  return e;
}

}  // namespace trellis::platform::events
