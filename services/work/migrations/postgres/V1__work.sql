-- The work context on PostgreSQL: the same schema as ../V1__work.sql, applied by
-- trellis_migrator with search_path = work (deploy/postgres/bootstrap.sql made the schema,
-- the grants and the unaccent extension). Timestamps are Unix milliseconds (BIGINT); ids are
-- UUIDv7 text; every table is a tenant table under row-level security keyed on
-- trellis.org_id (docs/adr/0013-postgres-schemas-roles-rls.md).

CREATE TABLE projects (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  archived BIGINT NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,          -- the ETag; bumped by every update
  PRIMARY KEY (org_id, id)
);
CREATE INDEX projects_org_created ON projects (org_id, created_at_ms, id);

-- Full-text search as SQLite's FTS5 table does it (unicode61 remove_diacritics 2): words are
-- runs of letters and digits, matched without case and diacritics. ASCII punctuation
-- (including '_') is turned into spaces before parsing so that the parser sees only words, as
-- unicode61 does; unaccent then drops diacritics and simple lower-cases without stemming or
-- stop words. The store's query (work_store.cpp, TsQuery) goes through the same configuration.
CREATE TEXT SEARCH CONFIGURATION trellis_search (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION trellis_search
  ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, numhword, hword_asciipart,
                    hword_part, hword_numpart, int, uint, float, sfloat, version
  WITH unaccent, simple;

-- seq is kept as in SQLite (there it is the FTS5 rowid); here it is an identity column.
-- priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low. priority_rank orders them urgent
-- first and "none" last (rank = (priority + 4) % 5), so sort=priority needs no CASE.
CREATE TABLE tasks (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('todo', 'in_progress', 'done', 'canceled')),
  priority BIGINT NOT NULL CHECK (priority BETWEEN 0 AND 4),
  priority_rank BIGINT GENERATED ALWAYS AS ((priority + 4) % 5) STORED,
  assignee_id TEXT,
  due_date TEXT,                    -- YYYY-MM-DD
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,
  search tsvector GENERATED ALWAYS AS (
    to_tsvector('trellis_search',
                regexp_replace(title || ' ' || description,
                               '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'))) STORED,
  UNIQUE (org_id, id),
  FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id)
);
CREATE INDEX tasks_project_created ON tasks (org_id, project_id, created_at_ms, id);
CREATE INDEX tasks_project_updated ON tasks (org_id, project_id, updated_at_ms, id);
CREATE INDEX tasks_project_due ON tasks (org_id, project_id, due_date, id);
CREATE INDEX tasks_project_priority ON tasks (org_id, project_id, priority_rank, id);
CREATE INDEX tasks_assignee ON tasks (org_id, assignee_id);
CREATE INDEX tasks_search ON tasks USING GIN (search);

-- Labels: at most 20 per task, each 1..50 code points, unique per task.
CREATE TABLE task_labels (
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  label TEXT NOT NULL,
  PRIMARY KEY (org_id, task_id, label),
  FOREIGN KEY (org_id, task_id) REFERENCES tasks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX task_labels_label ON task_labels (org_id, label, task_id);

CREATE TABLE comments (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  author_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, task_id) REFERENCES tasks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX comments_task_created ON comments (org_id, task_id, created_at_ms, id);

CREATE TABLE outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  org_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  occurred_at_ms BIGINT NOT NULL,
  audience TEXT NOT NULL
);

-- Row-level security: the org of the transaction, nothing else. NULLIF makes an unset
-- setting ('' once an earlier transaction's local value ended) match nothing.
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE task_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_labels FORCE ROW LEVEL SECURITY;
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments FORCE ROW LEVEL SECURITY;
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;

CREATE POLICY projects_tenant ON projects
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY tasks_tenant ON tasks
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY task_labels_tenant ON task_labels
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY comments_tenant ON comments
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY outbox_tenant ON outbox
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));

-- The outbox relay reads and deletes every org's pending events (platform/events/relay.cpp
-- sets trellis.outbox_relay = 'on'); it never inserts or updates.
CREATE POLICY outbox_relay_read ON outbox FOR SELECT
  USING (current_setting('trellis.outbox_relay', true) = 'on');
CREATE POLICY outbox_relay_delete ON outbox FOR DELETE
  USING (current_setting('trellis.outbox_relay', true) = 'on');
