-- The work context: projects, tasks (with labels and full-text search) and comments, plus
-- the outbox every context keeps. Timestamps are Unix milliseconds; ids are UUIDv7 text; every
-- tenant table is keyed by org_id first and every query filters on it.

CREATE TABLE projects (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  version INTEGER NOT NULL,         -- the ETag; bumped by every update
  PRIMARY KEY (org_id, id)
);
CREATE INDEX projects_org_created ON projects (org_id, created_at_ms, id);

-- seq is the stable integer row id the FTS5 external-content table points at (an implicit
-- rowid may be renumbered by VACUUM; an INTEGER PRIMARY KEY never is).
-- priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low. priority_rank orders them urgent
-- first and "none" last (rank = (priority + 4) % 5), so sort=priority needs no CASE.
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('todo', 'in_progress', 'done', 'canceled')),
  priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 4),
  priority_rank INTEGER GENERATED ALWAYS AS ((priority + 4) % 5) STORED,
  assignee_id TEXT,
  due_date TEXT,                    -- YYYY-MM-DD
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  version INTEGER NOT NULL,
  UNIQUE (org_id, id),
  FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id)
);
CREATE INDEX tasks_project_created ON tasks (org_id, project_id, created_at_ms, id);
CREATE INDEX tasks_project_updated ON tasks (org_id, project_id, updated_at_ms, id);
CREATE INDEX tasks_project_due ON tasks (org_id, project_id, due_date, id);
CREATE INDEX tasks_project_priority ON tasks (org_id, project_id, priority_rank, id);
CREATE INDEX tasks_assignee ON tasks (org_id, assignee_id);

-- Labels: at most 20 per task, each 1..50 code points, unique per task.
CREATE TABLE task_labels (
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  label TEXT NOT NULL,
  PRIMARY KEY (org_id, task_id, label),
  FOREIGN KEY (org_id, task_id) REFERENCES tasks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX task_labels_label ON task_labels (org_id, label, task_id);

-- Full-text search over title and description, kept in sync by triggers. The PostgreSQL tier
-- replaces this with a tsvector column and a GIN index.
CREATE VIRTUAL TABLE tasks_fts USING fts5(
  title, description, content = 'tasks', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO tasks_fts (rowid, title, description) VALUES (new.seq, new.title, new.description);
END;
CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
  INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
    VALUES ('delete', old.seq, old.title, old.description);
END;
CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description ON tasks BEGIN
  INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
    VALUES ('delete', old.seq, old.title, old.description);
  INSERT INTO tasks_fts (rowid, title, description) VALUES (new.seq, new.title, new.description);
END;

CREATE TABLE comments (
  org_id TEXT NOT NULL,
  id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  author_id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, task_id) REFERENCES tasks (org_id, id) ON DELETE CASCADE
);
CREATE INDEX comments_task_created ON comments (org_id, task_id, created_at_ms, id);

CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  org_id TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  audience TEXT NOT NULL
);
