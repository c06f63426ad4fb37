// The transactional outbox: every context's migrations create this table in its own database,
// and every mutation appends its events to it inside the mutation's transaction, so an event
// exists if and only if its change committed.
//
//   CREATE TABLE outbox (
//     seq INTEGER PRIMARY KEY,            -- insertion order (bigserial in PostgreSQL)
//     event_id TEXT NOT NULL UNIQUE,
//     type TEXT NOT NULL,
//     org_id TEXT NOT NULL,
//     actor_id TEXT NOT NULL,
//     subject_id TEXT NOT NULL,
//     payload TEXT NOT NULL,
//     occurred_at_ms INTEGER NOT NULL,
//     audience TEXT NOT NULL
//   );
//
//   if (auto r = co_await AppendToOutbox(tx, event); !r) co_return std::unexpected(r.error());
//
// The relay (relay.hpp) reads the rows in seq order with ReadOutbox and deletes them with
// DeleteFromOutbox once the event log holds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/events/event.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::platform::events {

[[nodiscard]] ports::Awaitable<void> AppendToOutbox(ports::SqlTransaction& tx,
                                                    const DomainEvent& event);

// One outbox row: its seq and the event it holds.
struct OutboxEntry {
  std::int64_t seq = 0;
  DomainEvent event;
};

// Up to `limit` rows, oldest (lowest seq) first.
[[nodiscard]] ports::Awaitable<std::vector<OutboxEntry>> ReadOutbox(ports::SqlTransaction& tx,
                                                                    std::size_t limit);
// Deletes the rows with these seqs (by value, not a range: in PostgreSQL a lower seq can commit
// after a higher one, and such a row has not been read yet).
[[nodiscard]] ports::Awaitable<void> DeleteFromOutbox(ports::SqlTransaction& tx,
                                                      const std::vector<std::int64_t>& seqs);

// The event in a row with the outbox's event columns (event_id, type, org_id, actor_id,
// subject_id, payload, occurred_at_ms, audience); the SQLite event log stores the same ones.
// An unknown audience reads as owner, so a bad row is shown to as few people as possible.
[[nodiscard]] core::Result<DomainEvent> EventFromRow(const ports::SqlRow& row);

}  // namespace trellis::platform::events
