-- The audit log on PostgreSQL: the same schema as ../V1__audit.sql, applied by
-- trellis_migrator with search_path = audit. A projection of every domain event, one row per
-- event and org; append-only; the projection inserts with ON CONFLICT DO NOTHING, so an event
-- delivered twice is one row. The projection writes each event in a transaction for that
-- event's org, so the tenant policy is the only one (docs/adr/0013).

CREATE TABLE audit_events (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,                 -- the event id
  seq BIGINT NOT NULL,              -- the event log offset: the order of the log, newest last
  occurred_at_ms BIGINT NOT NULL,
  actor_id TEXT NOT NULL,           -- user or API key id; '' for the system
  action TEXT NOT NULL,             -- the event type: "work.task.created"
  subject_id TEXT NOT NULL,
  payload TEXT NOT NULL,            -- a JSON object
  PRIMARY KEY (org_id, id)
);
CREATE INDEX audit_events_org_seq ON audit_events (org_id, seq);
CREATE INDEX audit_events_org_actor_seq ON audit_events (org_id, actor_id, seq);
CREATE INDEX audit_events_org_action_seq ON audit_events (org_id, action, seq);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
