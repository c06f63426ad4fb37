#include "services/identity/store/oidc_store.hpp"

#include <utility>

namespace trellis::identity::store {

namespace core = platform::core;
using platform::ports::SqlParams;
using platform::ports::SqlRow;
using platform::ports::SqlValue;

namespace {

SqlValue Opt(const std::optional<std::int64_t>& v) {
  if (v) return *v;
  return std::monostate{};
}

SqlValue Opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return std::monostate{};
}

// Reads one column into out; remembers the first failure in err.
template <typename T>
void Read(const SqlRow& row, const char* column, T& out, core::Error& err, bool& ok) {
  if (!ok) return;
  auto v = row.Get<T>(column);
  if (!v) {
    err = v.error();
    ok = false;
    return;
  }
  out = std::move(*v);
}

template <typename T>
void ReadOpt(const SqlRow& row, const char* column, std::optional<T>& out, core::Error& err,
             bool& ok) {
  if (!ok) return;
  auto v = row.GetOptional<T>(column);
  if (!v) {
    err = v.error();
    ok = false;
    return;
  }
  out = std::move(*v);
}

core::Result<SigningKeyRow> KeyFrom(const SqlRow& row) {
  SigningKeyRow k;
  core::Error err;
  bool ok = true;
  Read(row, "kid", k.kid, err, ok);
  Read(row, "private_pem", k.private_pem, err, ok);
  Read(row, "public_jwk", k.public_jwk, err, ok);
  Read(row, "created_at_ms", k.created_at_ms, err, ok);
  Read(row, "activated_at_ms", k.activated_at_ms, err, ok);
  ReadOpt(row, "retire_at_ms", k.retire_at_ms, err, ok);
  if (!ok) return std::unexpected(err);
  return k;
}

core::Result<SessionRow> SessionFrom(const SqlRow& row) {
  SessionRow s;
  core::Error err;
  bool ok = true;
  Read(row, "id", s.id, err, ok);
  Read(row, "token_sha256", s.token_sha256, err, ok);
  Read(row, "user_id", s.user_id, err, ok);
  Read(row, "created_at_ms", s.created_at_ms, err, ok);
  Read(row, "expires_at_ms", s.expires_at_ms, err, ok);
  ReadOpt(row, "ended_at_ms", s.ended_at_ms, err, ok);
  if (!ok) return std::unexpected(err);
  return s;
}

core::Result<CodeRow> CodeFrom(const SqlRow& row) {
  CodeRow c;
  core::Error err;
  bool ok = true;
  Read(row, "code_sha256", c.code_sha256, err, ok);
  Read(row, "client_id", c.client_id, err, ok);
  Read(row, "user_id", c.user_id, err, ok);
  Read(row, "redirect_uri", c.redirect_uri, err, ok);
  Read(row, "code_challenge", c.code_challenge, err, ok);
  Read(row, "scope", c.scope, err, ok);
  Read(row, "nonce", c.nonce, err, ok);
  Read(row, "session_id", c.session_id, err, ok);
  Read(row, "auth_time_ms", c.auth_time_ms, err, ok);
  Read(row, "created_at_ms", c.created_at_ms, err, ok);
  Read(row, "expires_at_ms", c.expires_at_ms, err, ok);
  ReadOpt(row, "used_at_ms", c.used_at_ms, err, ok);
  ReadOpt(row, "family_id", c.family_id, err, ok);
  if (!ok) return std::unexpected(err);
  return c;
}

core::Result<RefreshTokenRow> RefreshFrom(const SqlRow& row) {
  RefreshTokenRow r;
  core::Error err;
  bool ok = true;
  Read(row, "token_sha256", r.token_sha256, err, ok);
  Read(row, "family_id", r.family_id, err, ok);
  Read(row, "user_id", r.user_id, err, ok);
  Read(row, "client_id", r.client_id, err, ok);
  Read(row, "scope", r.scope, err, ok);
  Read(row, "session_id", r.session_id, err, ok);
  Read(row, "auth_time_ms", r.auth_time_ms, err, ok);
  Read(row, "created_at_ms", r.created_at_ms, err, ok);
  Read(row, "expires_at_ms", r.expires_at_ms, err, ok);
  ReadOpt(row, "used_at_ms", r.used_at_ms, err, ok);
  ReadOpt(row, "revoked_at_ms", r.revoked_at_ms, err, ok);
  if (!ok) return std::unexpected(err);
  return r;
}

// The first row through `from`, or nullopt when there is none.
template <typename T, typename From>
core::Result<std::optional<T>> First(const core::Result<platform::ports::SqlResult>& res,
                                     From from) {
  if (!res) return std::unexpected(res.error());
  if (res->rows.empty()) return std::optional<T>();
  auto v = from(res->rows.front());
  if (!v) return std::unexpected(v.error());
  return std::optional<T>(std::move(*v));
}

}  // namespace

Awaitable<std::vector<SigningKeyRow>> LoadSigningKeys(SqlTransaction& tx) {
  auto res = co_await tx.Execute(
      "SELECT kid, private_pem, public_jwk, created_at_ms, activated_at_ms, retire_at_ms "
      "FROM oidc_signing_keys ORDER BY activated_at_ms DESC");
  if (!res) co_return std::unexpected(res.error());
  std::vector<SigningKeyRow> out;
  for (const auto& row : res->rows) {
    auto key = KeyFrom(row);
    if (!key) co_return std::unexpected(key.error());
    out.push_back(std::move(*key));
  }
  co_return out;
}

Awaitable<void> InsertSigningKey(SqlTransaction& tx, const SigningKeyRow& key) {
  SqlParams p{key.kid,           key.private_pem,     key.public_jwk,
              key.created_at_ms, key.activated_at_ms, Opt(key.retire_at_ms)};
  co_return platform::ports::Void(co_await tx.Execute(
      "INSERT INTO oidc_signing_keys (kid, private_pem, public_jwk, created_at_ms, "
      "activated_at_ms, retire_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      std::move(p)));
}

Awaitable<void> RetireActiveKeys(SqlTransaction& tx, std::int64_t retire_at_ms) {
  SqlParams p{retire_at_ms};
  co_return platform::ports::Void(co_await tx.Execute(
      "UPDATE oidc_signing_keys SET retire_at_ms = $1 WHERE retire_at_ms IS NULL", std::move(p)));
}

Awaitable<void> DeleteRetiredKeys(SqlTransaction& tx, std::int64_t before_ms) {
  SqlParams p{before_ms};
  co_return platform::ports::Void(co_await tx.Execute(
      "DELETE FROM oidc_signing_keys WHERE retire_at_ms IS NOT NULL AND retire_at_ms < $1",
      std::move(p)));
}

Awaitable<void> InsertSession(SqlTransaction& tx, const SessionRow& s) {
  SqlParams p{
      s.id, s.token_sha256, s.user_id, s.created_at_ms, s.expires_at_ms, Opt(s.ended_at_ms)};
  co_return platform::ports::Void(co_await tx.Execute(
      "INSERT INTO oidc_sessions (id, token_sha256, user_id, created_at_ms, expires_at_ms, "
      "ended_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      std::move(p)));
}

Awaitable<std::optional<SessionRow>> FindSession(SqlTransaction& tx,
                                                 const std::string& token_sha256) {
  SqlParams p{token_sha256};
  auto res = co_await tx.Execute(
      "SELECT id, token_sha256, user_id, created_at_ms, expires_at_ms, ended_at_ms "
      "FROM oidc_sessions WHERE token_sha256 = $1",
      std::move(p));
  co_return First<SessionRow>(res, SessionFrom);
}

Awaitable<std::optional<SessionRow>> FindSessionById(SqlTransaction& tx, const std::string& id) {
  SqlParams p{id};
  auto res = co_await tx.Execute(
      "SELECT id, token_sha256, user_id, created_at_ms, expires_at_ms, ended_at_ms "
      "FROM oidc_sessions WHERE id = $1",
      std::move(p));
  co_return First<SessionRow>(res, SessionFrom);
}

Awaitable<void> EndSession(SqlTransaction& tx, const std::string& session_id, std::int64_t now_ms) {
  SqlParams p{now_ms, session_id};
  co_return platform::ports::Void(co_await tx.Execute(
      "UPDATE oidc_sessions SET ended_at_ms = $1 WHERE id = $2 AND ended_at_ms IS NULL",
      std::move(p)));
}

Awaitable<void> RevokeSessionRefreshTokens(SqlTransaction& tx, const std::string& session_id,
                                           std::int64_t now_ms) {
  SqlParams p{now_ms, session_id};
  co_return platform::ports::Void(
      co_await tx.Execute("UPDATE oidc_refresh_tokens SET revoked_at_ms = $1 "
                          "WHERE session_id = $2 AND revoked_at_ms IS NULL",
                          std::move(p)));
}

Awaitable<void> InsertCode(SqlTransaction& tx, const CodeRow& c) {
  SqlParams p{c.code_sha256,   c.client_id,       c.user_id,       c.redirect_uri, c.code_challenge,
              c.scope,         c.nonce,           c.session_id,    c.auth_time_ms, c.created_at_ms,
              c.expires_at_ms, Opt(c.used_at_ms), Opt(c.family_id)};
  co_return platform::ports::Void(co_await tx.Execute(
      "INSERT INTO oidc_codes (code_sha256, client_id, user_id, redirect_uri, code_challenge, "
      "scope, nonce, session_id, auth_time_ms, created_at_ms, expires_at_ms, used_at_ms, "
      "family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
      std::move(p)));
}

Awaitable<std::optional<CodeRow>> FindCode(SqlTransaction& tx, const std::string& code_sha256) {
  SqlParams p{code_sha256};
  auto res = co_await tx.Execute(
      "SELECT code_sha256, client_id, user_id, redirect_uri, code_challenge, scope, nonce, "
      "session_id, auth_time_ms, created_at_ms, expires_at_ms, used_at_ms, family_id "
      "FROM oidc_codes WHERE code_sha256 = $1",
      std::move(p));
  co_return First<CodeRow>(res, CodeFrom);
}

Awaitable<bool> MarkCodeUsed(SqlTransaction& tx, const std::string& code_sha256,
                             std::int64_t now_ms, const std::string& family_id) {
  SqlParams p{now_ms, family_id, code_sha256};
  auto res = co_await tx.Execute(
      "UPDATE oidc_codes SET used_at_ms = $1, family_id = $2 "
      "WHERE code_sha256 = $3 AND used_at_ms IS NULL",
      std::move(p));
  if (!res) co_return std::unexpected(res.error());
  co_return res->rows_affected == 1;
}

Awaitable<void> InsertRefreshToken(SqlTransaction& tx, const RefreshTokenRow& r) {
  SqlParams p{r.token_sha256,  r.family_id,       r.user_id,           r.client_id,
              r.scope,         r.session_id,      r.auth_time_ms,      r.created_at_ms,
              r.expires_at_ms, Opt(r.used_at_ms), Opt(r.revoked_at_ms)};
  co_return platform::ports::Void(co_await tx.Execute(
      "INSERT INTO oidc_refresh_tokens (token_sha256, family_id, user_id, client_id, scope, "
      "session_id, auth_time_ms, created_at_ms, expires_at_ms, used_at_ms, revoked_at_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
      std::move(p)));
}

Awaitable<std::optional<RefreshTokenRow>> FindRefreshToken(SqlTransaction& tx,
                                                           const std::string& token_sha256) {
  SqlParams p{token_sha256};
  auto res = co_await tx.Execute(
      "SELECT token_sha256, family_id, user_id, client_id, scope, session_id, auth_time_ms, "
      "created_at_ms, expires_at_ms, used_at_ms, revoked_at_ms "
      "FROM oidc_refresh_tokens WHERE token_sha256 = $1",
      std::move(p));
  co_return First<RefreshTokenRow>(res, RefreshFrom);
}

Awaitable<bool> MarkRefreshTokenUsed(SqlTransaction& tx, const std::string& token_sha256,
                                     std::int64_t now_ms) {
  SqlParams p{now_ms, token_sha256};
  auto res = co_await tx.Execute(
      "UPDATE oidc_refresh_tokens SET used_at_ms = $1 "
      "WHERE token_sha256 = $2 AND used_at_ms IS NULL AND revoked_at_ms IS NULL",
      std::move(p));
  if (!res) co_return std::unexpected(res.error());
  co_return res->rows_affected == 1;
}

Awaitable<std::int64_t> RevokeRefreshFamily(SqlTransaction& tx, const std::string& family_id,
                                            std::int64_t now_ms) {
  SqlParams p{now_ms, family_id};
  auto res = co_await tx.Execute(
      "UPDATE oidc_refresh_tokens SET revoked_at_ms = $1 "
      "WHERE family_id = $2 AND revoked_at_ms IS NULL",
      std::move(p));
  if (!res) co_return std::unexpected(res.error());
  co_return res->rows_affected;
}

}  // namespace trellis::identity::store
