-- Users, orgs, memberships and API keys. Timestamps are Unix milliseconds; ids are UUIDv7 text.

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,              -- lower-cased; not unique: external issuers may repeat one
  name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX users_email ON users (email);

-- How a token's (iss, sub) maps to a user. The built-in issuer's users are here too, with
-- the built-in issuer's URL and the user id as subject, so every issuer is handled alike.
CREATE TABLE user_identities (
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (issuer, subject)
);

-- Local accounts of the built-in issuer: argon2id hashes (libsodium's encoded form).
CREATE TABLE local_accounts (
  user_id TEXT PRIMARY KEY REFERENCES users (id),
  email TEXT NOT NULL UNIQUE,       -- lower-cased
  password_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  version INTEGER NOT NULL          -- the ETag; bumped by every update
);

-- A membership is pending (invited by email, no user yet) or active (user_id set).
CREATE TABLE memberships (
  org_id TEXT NOT NULL REFERENCES orgs (id),
  id TEXT NOT NULL,
  user_id TEXT REFERENCES users (id),
  email TEXT NOT NULL,              -- lower-cased
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
  invited_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, email)
);
CREATE UNIQUE INDEX memberships_org_user ON memberships (org_id, user_id);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_email_pending ON memberships (email) WHERE status = 'pending';

-- API keys: the secret is shown once; only its SHA-256 is kept (a 256-bit random secret needs
-- no slow hash).
CREATE TABLE api_keys (
  org_id TEXT NOT NULL REFERENCES orgs (id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  prefix TEXT NOT NULL,             -- the first characters, shown in lists to tell keys apart
  secret_sha256 TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER,
  version INTEGER NOT NULL,
  PRIMARY KEY (org_id, id)
);

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
