// The audit context's SQL: the projection's insert and the tenant-scoped query. Every query on
// audit_events has `org_id = $1`.
//
//   auto inserted = co_await InsertAuditEvent(tx, entry);          // false: already there
//   auto page = co_await ListAuditEvents(tx, org, filter, before_seq, limit + 1);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/ports/sql_store.hpp"
#include "platform/store/migrations.hpp"
#include "services/audit/domain/audit.hpp"

namespace trellis::audit::store {

// The context's migrations (services/audit/migrations), compiled into the binary.
[[nodiscard]] std::vector<platform::store::MigrationFile> Migrations();
// The same schema for PostgreSQL (services/audit/migrations/postgres): schema audit, applied
// by trellis_migrator with search_path = audit.
[[nodiscard]] std::vector<platform::store::MigrationFile> PostgresMigrations();

// Inserts the entry unless (org_id, id) is already there; true when it was inserted.
[[nodiscard]] platform::ports::Awaitable<bool> InsertAuditEvent(platform::ports::SqlTransaction& tx,
                                                                const domain::AuditEvent& entry);

// The org's entries matching the filter, newest (highest seq) first, with seq < before_seq
// when given; at most `limit`.
[[nodiscard]] platform::ports::Awaitable<std::vector<domain::AuditEvent>> ListAuditEvents(
    platform::ports::SqlTransaction& tx, const std::string& org_id,
    const domain::AuditFilter& filter, std::optional<std::int64_t> before_seq, int limit);

}  // namespace trellis::audit::store
