-- Users, orgs, memberships and API keys (PostgreSQL; the same schema as ../V1__identity.sql).
-- Applied by trellis_migrator with search_path = identity; the tables are owned by it and
-- trellis_identity gets DML through default privileges (deploy/postgres/bootstrap.sql).
-- Timestamps are Unix milliseconds (BIGINT); ids are UUIDv7 text.
--
-- Row-level security (docs/adr/0013-postgres-schemas-roles-rls.md): every table with an org_id
-- is ENABLE + FORCE ROW LEVEL SECURITY with a tenant policy on trellis.org_id, set per
-- transaction by the store adapter from TransactionOptions::Org. The few use cases that
-- cross orgs get narrow extra policies keyed on further trellis.* settings. NULLIF makes an
-- unset setting ('' after an earlier transaction's local value ended) match nothing.

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,              -- lower-cased; not unique: external issuers may repeat one
  name TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX users_email ON users (email);

-- How a token's (iss, sub) maps to a user. The built-in issuer's users are here too, with
-- the built-in issuer's URL and the user id as subject, so every issuer is handled alike.
CREATE TABLE user_identities (
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (issuer, subject)
);

-- Local accounts of the built-in issuer: argon2id hashes (libsodium's encoded form).
CREATE TABLE local_accounts (
  user_id TEXT PRIMARY KEY REFERENCES users (id),
  email TEXT NOT NULL UNIQUE,       -- lower-cased
  password_hash TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);

-- The tenants themselves. Not under RLS: a slug is unique across all orgs (the slug check
-- reads every org), and a user's org list joins the orgs of their memberships; names and
-- slugs are what any member of the org sees anyway.
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL           -- the ETag; bumped by every update
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
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  version BIGINT NOT NULL,
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
  created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT,
  version BIGINT NOT NULL,
  PRIMARY KEY (org_id, id)
);

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

-- Row-level security ---------------------------------------------------------------------

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;

-- The tenant: everything of the org the transaction is for.
CREATE POLICY memberships_tenant ON memberships
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY api_keys_tenant ON api_keys
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));
CREATE POLICY outbox_tenant ON outbox
  USING (org_id = NULLIF(current_setting('trellis.org_id', true), ''))
  WITH CHECK (org_id = NULLIF(current_setting('trellis.org_id', true), ''));

-- A user's own memberships in every org: the org list (ListMyOrgs), and activation's checks
-- (is the user already in that org; the activated row read back).
CREATE POLICY memberships_own ON memberships FOR SELECT
  USING (user_id = NULLIF(current_setting('trellis.user_id', true), ''));

-- Invitations addressed to the verified email of the subject being resolved
-- (ResolveSubject): seen, and turned into that user's active membership.
CREATE POLICY memberships_invited ON memberships FOR SELECT
  USING (status = 'pending' AND email = NULLIF(current_setting('trellis.email', true), ''));
CREATE POLICY memberships_activate ON memberships FOR UPDATE
  USING (status = 'pending' AND email = NULLIF(current_setting('trellis.email', true), ''))
  WITH CHECK (status = 'active'
              AND email = NULLIF(current_setting('trellis.email', true), '')
              AND user_id = NULLIF(current_setting('trellis.user_id', true), ''));

-- The one event activation writes for each org it joins: identity.member.joined about the
-- user's own (now active) membership.
CREATE POLICY outbox_member_joined ON outbox FOR INSERT
  WITH CHECK (type = 'identity.member.joined'
              AND actor_id = NULLIF(current_setting('trellis.user_id', true), '')
              AND EXISTS (SELECT 1 FROM memberships m
                           WHERE m.org_id = outbox.org_id AND m.id = outbox.subject_id
                             AND m.user_id = NULLIF(current_setting('trellis.user_id', true), '')
                             AND m.status = 'active'));

-- An API key found by the SHA-256 of the presented secret (AuthenticateApiKey), before its
-- org is known.
CREATE POLICY api_keys_by_secret ON api_keys FOR SELECT
  USING (secret_sha256 = NULLIF(current_setting('trellis.api_key_sha256', true), ''));

-- The outbox relay reads and deletes every org's pending events (platform/events/relay.cpp
-- sets trellis.outbox_relay = 'on'); it never inserts or updates.
CREATE POLICY outbox_relay_read ON outbox FOR SELECT
  USING (current_setting('trellis.outbox_relay', true) = 'on');
CREATE POLICY outbox_relay_delete ON outbox FOR DELETE
  USING (current_setting('trellis.outbox_relay', true) = 'on');
