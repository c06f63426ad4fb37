-- Fencing tokens (platform/store/fencing.hpp, docs/adr/0018): per lease name, the highest token
-- a fenced write in this schema has carried. Singleton work (the outbox relay) checks its
-- lease's token here in the transaction of each fenced write; a lower token is refused.
-- Not a tenant table (no org_id, no row-level security): lease names are cluster-wide. The
-- context's app role gets SELECT, INSERT, UPDATE, DELETE through the schema's default
-- privileges (deploy/postgres/bootstrap.sql), as the outbox does; no GRANT lines here.
CREATE TABLE fencing_tokens (
  name TEXT PRIMARY KEY,
  token BIGINT NOT NULL CHECK (token >= 0)
);
