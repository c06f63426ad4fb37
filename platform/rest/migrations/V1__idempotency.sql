-- Idempotency-Key records of the public API's POSTs (platform/rest/idempotency.hpp).
-- Lives in the gateway's own database (edge.db). Times are Unix milliseconds.
CREATE TABLE idempotency_keys (
  scope          TEXT    NOT NULL,  -- 'org:<org id>', 'user:<user id>', 'key:<api key id>', 'anon'
  key            TEXT    NOT NULL,  -- the Idempotency-Key header, at most 255 bytes
  request_hash   TEXT    NOT NULL,  -- SHA-256 hex of method, path, actor and body
  state          TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
  claim          TEXT    NOT NULL,  -- random token of the request holding the claim
  status         INTEGER,           -- the stored response, once done
  content_type   TEXT,
  headers        TEXT,              -- JSON array of [name, value] pairs
  body           BLOB,
  created_at_ms  INTEGER NOT NULL,  -- when the current claim was taken
  expires_at_ms  INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at_ms);
