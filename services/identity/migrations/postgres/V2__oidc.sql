-- PostgreSQL: the same schema as ../V2__oidc.sql (BIGINT times). None of these tables holds
-- tenant data (no org_id): the issuer works before any org is chosen, so no RLS here.
--
-- The built-in OpenID Connect issuer (embedded shape): signing keys, browser sessions,
-- authorization codes and refresh tokens. Timestamps are Unix milliseconds. Secrets handed to
-- browsers or clients (session cookies, codes, refresh tokens) are kept only as their SHA-256
-- (lower-case hex): 256-bit random values need no slow hash. See docs/adr/0009.

-- ES256 signing keys. The newest activated key without retire_at signs; every key whose
-- retire_at is NULL or still ahead is published in the JWKS. The private key is stored as
-- PEM: the identity database file is as secret as the keys themselves.
CREATE TABLE oidc_signing_keys (
  kid TEXT PRIMARY KEY,
  private_pem TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  activated_at_ms BIGINT NOT NULL,
  retire_at_ms BIGINT
);

-- A browser's sign-in at the issuer (the HttpOnly cookie holds the token; only its hash is here).
CREATE TABLE oidc_sessions (
  id TEXT PRIMARY KEY,              -- UUIDv7; the "sid" claim
  token_sha256 TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL REFERENCES users (id),
  created_at_ms BIGINT NOT NULL,   -- also the auth_time of tokens issued through it
  expires_at_ms BIGINT NOT NULL,
  ended_at_ms BIGINT
);
CREATE INDEX oidc_sessions_user ON oidc_sessions (user_id);

-- Authorization codes: single use, short-lived. family_id is set when the code is exchanged,
-- so that presenting it again revokes the refresh tokens issued from it.
CREATE TABLE oidc_codes (
  code_sha256 TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id),
  redirect_uri TEXT NOT NULL,
  code_challenge TEXT NOT NULL,     -- S256 only
  scope TEXT NOT NULL,
  nonce TEXT NOT NULL,              -- '' when the client sent none
  session_id TEXT NOT NULL REFERENCES oidc_sessions (id),
  auth_time_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms BIGINT,
  family_id TEXT
);

-- Refresh tokens, rotated on every use. All tokens descending from one code share family_id;
-- presenting a rotated (used) token revokes the whole family.
CREATE TABLE oidc_refresh_tokens (
  token_sha256 TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (id),
  client_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  session_id TEXT NOT NULL REFERENCES oidc_sessions (id),
  auth_time_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms BIGINT,               -- set when rotated
  revoked_at_ms BIGINT
);
CREATE INDEX oidc_refresh_tokens_family ON oidc_refresh_tokens (family_id);
CREATE INDEX oidc_refresh_tokens_session ON oidc_refresh_tokens (session_id);
