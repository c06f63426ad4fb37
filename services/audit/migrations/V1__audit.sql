-- The audit log: a projection of every domain event, one row per event and org. Append-only;
-- the projection inserts with ON CONFLICT DO NOTHING, so an event delivered twice is one row.

CREATE TABLE audit_events (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,                 -- the event id
  seq INTEGER NOT NULL,             -- the event log offset: the order of the log, newest last
  occurred_at_ms INTEGER NOT NULL,
  actor_id TEXT NOT NULL,           -- user or API key id; '' for the system
  action TEXT NOT NULL,             -- the event type: "work.task.created"
  subject_id TEXT NOT NULL,
  payload TEXT NOT NULL,            -- a JSON object
  PRIMARY KEY (org_id, id)
);
CREATE INDEX audit_events_org_seq ON audit_events (org_id, seq);
CREATE INDEX audit_events_org_actor_seq ON audit_events (org_id, actor_id, seq);
CREATE INDEX audit_events_org_action_seq ON audit_events (org_id, action, seq);
