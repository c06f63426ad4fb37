-- Idempotency-Key records of the public API's POSTs (platform/rest/idempotency.hpp) on
-- PostgreSQL: the same schema as ../V1__idempotency.sql, in schema edge, applied by
-- trellis_migrator with search_path = edge. Times are Unix milliseconds.
--
-- Not under row-level security (docs/adr/0013): a scope is an org, a user, an API key or
-- 'anon', never only an org; every statement is keyed by the scope the gateway derives from
-- the authenticated caller, and the expiry purge deletes across scopes by design. The table
-- is isolated by its schema: only trellis_edge can reach it.
CREATE TABLE idempotency_keys (
  scope          TEXT    NOT NULL,  -- 'org:<org id>', 'user:<user id>', 'key:<api key id>', 'anon'
  key            TEXT    NOT NULL,  -- the Idempotency-Key header, at most 255 bytes
  request_hash   TEXT    NOT NULL,  -- SHA-256 hex of method, path, actor and body
  state          TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
  claim          TEXT    NOT NULL,  -- random token of the request holding the claim
  status         BIGINT,            -- the stored response, once done
  content_type   TEXT,
  headers        TEXT,              -- JSON array of [name, value] pairs
  body           BYTEA,
  created_at_ms  BIGINT  NOT NULL,  -- when the current claim was taken
  expires_at_ms  BIGINT  NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at_ms);
