-- The embedded event log: domain events in append order, and consumer groups' offsets.
-- AUTOINCREMENT so that an offset is never reused, even after old events are pruned.

CREATE TABLE event_log (
  log_offset INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,    -- the deduplication key of a re-append
  type TEXT NOT NULL,
  org_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  audience TEXT NOT NULL,
  appended_at_ms INTEGER NOT NULL
);
CREATE INDEX event_log_org ON event_log (org_id, log_offset);

CREATE TABLE consumer_offsets (
  group_name TEXT PRIMARY KEY,
  committed_offset INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
