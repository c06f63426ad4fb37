-- Fencing tokens (platform/store/fencing.hpp, docs/adr/0018): per lease name, the highest token
-- a fenced write in this database has carried. Singleton work (the outbox relay) checks its
-- lease's token here in the transaction of each fenced write; a lower token is refused.
CREATE TABLE fencing_tokens (
  name TEXT PRIMARY KEY,
  token INTEGER NOT NULL CHECK (token >= 0)
);
