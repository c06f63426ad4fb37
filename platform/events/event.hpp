// A domain event: a fact a context records in its outbox in the same transaction as the change
// it describes. The relay moves it to the event log (SQLite in the embedded shape, Kafka later);
// subscribers (audit projection, live hub, cache invalidation) read it from there at least once
// and deduplicate by id.
//
//   DomainEvent e;
//   e.id = ids.Next(); e.type = "work.task.created"; e.org_id = org; e.actor_id = actor;
//   e.subject_id = task.id; e.payload = json; e.occurred_at_ms = now_ms;
//   co_await AppendToOutbox(tx, e);
#pragma once

#include <cstdint>
#include <string>

#include "platform/core/role.hpp"

namespace trellis::platform::events {

struct DomainEvent {
  std::string id;          // UUIDv7, unique across contexts; the deduplication key
  std::string type;        // "<context>.<aggregate>.<verb>": "work.task.created"
  std::string org_id;      // the tenant; every event belongs to one org
  std::string actor_id;    // user or API key id; "" for the system
  std::string subject_id;  // id of the changed aggregate
  std::string payload;     // a JSON object: the aggregate's public representation after the change
  std::int64_t occurred_at_ms = 0;  // Unix milliseconds
  // The weakest role that may see the event on the live stream: API key events are for
  // admins; org, membership and work events for every member (viewers list members too).
  core::Role audience = core::Role::kViewer;
  // Position in the event log, assigned when the relay appends it; 0 before.
  std::int64_t offset = 0;
};

}  // namespace trellis::platform::events
