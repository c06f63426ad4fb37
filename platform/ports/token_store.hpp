// The token store port, in two parts:
// - TokenStore: the session revocation list that every process consults, so that a session
//   ended in one process (sign-out, a refresh token reused) is refused by all of them within a
//   second. In process: adapters/memory; Redis: adapters/redis (a sorted set).
// - RefreshFamilies: refresh tokens and their families (rotation, reuse detection, revoking a
//   family or a session's families). Embedded: identity's SQL tables
//   (services/identity/store/sql_refresh_families), which survive a restart; Redis:
//   adapters/redis (one Lua script per call). ADR 0026.
//
// Sessions are named by their `sid` (the refresh-token family, carried by access tokens). A
// revocation is kept until the session's tokens could no longer be valid anyway.
// platform/auth/revocation_list.hpp keeps a local copy, refreshed from RevokedSince, so that
// checking a token costs no round trip.
//
//   co_await tokens.Revoke(sid, clock.Now() + refresh_ttl, deadline);
//   auto page = co_await tokens.RevokedSince(cursor, deadline);   // cursor "" the first time
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"

namespace trellis::platform::ports {

struct Revocation {
  std::string session_id;
  core::Clock::WallTime expires_at;  // after it the entry may be forgotten
};

struct RevocationPage {
  std::vector<Revocation> revoked;  // recorded after the cursor passed in, oldest first
  std::string cursor;               // pass to the next call
  // The cursor passed in was too old (entries it would have returned were forgotten or the
  // store restarted): the caller must start again from "" and rebuild its copy.
  bool reset = false;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Records that session `session_id` is revoked until `expires_at`. Idempotent.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> Revoke(
      std::string session_id, core::Clock::WallTime expires_at, core::Clock::MonoTime deadline) = 0;

  // Revocations recorded after `cursor` ("" for all that are still kept).
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<RevocationPage>> RevokedSince(
      std::string cursor, core::Clock::MonoTime deadline) = 0;
};

// What a refresh token was issued for. Tokens are kept only as their SHA-256 (hex).
struct RefreshGrant {
  std::string family_id;   // every token rotated from one authorization code shares it
  std::string session_id;  // the browser session (`sid`) it belongs to
  std::string user_id;
  std::string client_id;
  std::string scope;
  std::int64_t auth_time_ms = 0;  // when the user signed in, ms since the epoch
};

enum class RotateOutcome {
  kRotated,      // the token was live: it is now used and the next one is issued
  kUnknown,      // no such token (never issued, or forgotten after it expired)
  kRevoked,      // its family or its session was revoked; nothing changed
  kWrongClient,  // issued to another client; nothing changed (the token stays live)
  kReused,       // it was used before: its whole family is revoked now (RFC 9700 §4.14.2)
  kExpired,      // past its expiry; it is used up now, nothing issued
};

struct Rotation {
  RotateOutcome outcome = RotateOutcome::kUnknown;
  RefreshGrant grant;  // the presented token's grant; empty for kUnknown
};

//   co_await families.Issue(Sha256Hex(token), grant, clock.Now() + lifetime, deadline);
//   auto r = co_await families.Rotate(Sha256Hex(presented), client_id, Sha256Hex(next),
//                                     clock.Now() + lifetime, deadline);
//   if (r && r->outcome == RotateOutcome::kReused) ...  // revoke the session's access tokens
class RefreshFamilies {
 public:
  virtual ~RefreshFamilies() = default;

  // Stores the first token of a family. False (nothing stored) when the session was revoked
  // already: a sign-out that raced the code exchange wins.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<bool>> Issue(
      std::string token_sha256, RefreshGrant grant, core::Clock::WallTime expires_at,
      core::Clock::MonoTime deadline) = 0;

  // One atomic step: the presented token, when live and issued to `client_id`, becomes used and
  // `next_sha256` is issued in its family until `next_expires_at`. Of two concurrent rotations
  // of one token exactly one gets kRotated. Expiry is judged by the adapter's clock.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<Rotation>> Rotate(
      std::string token_sha256, std::string client_id, std::string next_sha256,
      core::Clock::WallTime next_expires_at, core::Clock::MonoTime deadline) = 0;

  // Revokes every token of the family. Idempotent; an unknown family is no error.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> RevokeFamily(
      std::string family_id, core::Clock::MonoTime deadline) = 0;

  // Revokes every family of the session, and any issued for it later (sign-out). Idempotent.
  [[nodiscard]] virtual boost::asio::awaitable<core::Result<void>> RevokeSession(
      std::string session_id, core::Clock::MonoTime deadline) = 0;
};

}  // namespace trellis::platform::ports
