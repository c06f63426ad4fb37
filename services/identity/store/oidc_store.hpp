// SQL of the built-in OpenID Connect issuer: signing keys, browser sessions, authorization
// codes and refresh tokens (tables of migrations/V2__oidc.sql). Secrets are looked up by their
// SHA-256 hex; callers hash them first. Not tenant-scoped: these rows belong to no org.
//
//   auto keys = co_await LoadSigningKeys(tx);
//   auto used = co_await MarkCodeUsed(tx, code_sha256, now_ms, family_id);  // false: reused
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/ports/sql_store.hpp"

namespace trellis::identity::store {

using platform::ports::Awaitable;
using platform::ports::SqlTransaction;

struct SigningKeyRow {
  std::string kid;
  std::string private_pem;
  std::string public_jwk;
  std::int64_t created_at_ms = 0;
  std::int64_t activated_at_ms = 0;
  std::optional<std::int64_t> retire_at_ms;
};

[[nodiscard]] Awaitable<std::vector<SigningKeyRow>> LoadSigningKeys(SqlTransaction& tx);
[[nodiscard]] Awaitable<void> InsertSigningKey(SqlTransaction& tx, const SigningKeyRow& key);
// Sets retire_at on every key that has none (they all stop signing now).
[[nodiscard]] Awaitable<void> RetireActiveKeys(SqlTransaction& tx, std::int64_t retire_at_ms);
// Deletes keys whose retire_at passed before this time (no verifier accepts them any more).
[[nodiscard]] Awaitable<void> DeleteRetiredKeys(SqlTransaction& tx, std::int64_t before_ms);

struct SessionRow {
  std::string id;
  std::string token_sha256;
  std::string user_id;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> ended_at_ms;
};

[[nodiscard]] Awaitable<void> InsertSession(SqlTransaction& tx, const SessionRow& session);
[[nodiscard]] Awaitable<std::optional<SessionRow>> FindSession(SqlTransaction& tx,
                                                               const std::string& token_sha256);
[[nodiscard]] Awaitable<std::optional<SessionRow>> FindSessionById(SqlTransaction& tx,
                                                                   const std::string& id);
// Ends the session (if still open). Its refresh tokens are revoked through the token store
// (RefreshFamilies::RevokeSession; SqlRefreshFamilies calls RevokeSessionRefreshTokens).
[[nodiscard]] Awaitable<void> EndSession(SqlTransaction& tx, const std::string& session_id,
                                         std::int64_t now_ms);

struct CodeRow {
  std::string code_sha256;
  std::string client_id;
  std::string user_id;
  std::string redirect_uri;
  std::string code_challenge;
  std::string scope;
  std::string nonce;
  std::string session_id;
  std::int64_t auth_time_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> used_at_ms;
  std::optional<std::string> family_id;
};

[[nodiscard]] Awaitable<void> InsertCode(SqlTransaction& tx, const CodeRow& code);
[[nodiscard]] Awaitable<std::optional<CodeRow>> FindCode(SqlTransaction& tx,
                                                         const std::string& code_sha256);
// Marks an unused code used and records the refresh-token family issued from it. False when the
// code was already used (nothing changed).
[[nodiscard]] Awaitable<bool> MarkCodeUsed(SqlTransaction& tx, const std::string& code_sha256,
                                           std::int64_t now_ms, const std::string& family_id);

struct RefreshTokenRow {
  std::string token_sha256;
  std::string family_id;
  std::string user_id;
  std::string client_id;
  std::string scope;
  std::string session_id;
  std::int64_t auth_time_ms = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> used_at_ms;
  std::optional<std::int64_t> revoked_at_ms;
};

[[nodiscard]] Awaitable<void> InsertRefreshToken(SqlTransaction& tx, const RefreshTokenRow& row);
[[nodiscard]] Awaitable<std::optional<RefreshTokenRow>> FindRefreshToken(
    SqlTransaction& tx, const std::string& token_sha256);
// Marks a live token rotated. False when it was already used or revoked (nothing changed).
[[nodiscard]] Awaitable<bool> MarkRefreshTokenUsed(SqlTransaction& tx,
                                                   const std::string& token_sha256,
                                                   std::int64_t now_ms);
// Revokes every token of the family that is not revoked yet; returns how many.
[[nodiscard]] Awaitable<std::int64_t> RevokeRefreshFamily(SqlTransaction& tx,
                                                          const std::string& family_id,
                                                          std::int64_t now_ms);

// Revokes every token of the session that is not revoked yet.
[[nodiscard]] Awaitable<void> RevokeSessionRefreshTokens(SqlTransaction& tx,
                                                         const std::string& session_id,
                                                         std::int64_t now_ms);

}  // namespace trellis::identity::store
