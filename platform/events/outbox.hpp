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
#pragma once

#include "platform/core/error.hpp"
#include "platform/events/event.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::platform::events {

[[nodiscard]] ports::Awaitable<void> AppendToOutbox(ports::SqlTransaction& tx,
                                                    const DomainEvent& event);

}  // namespace trellis::platform::events
