// The token store port: the session revocation list that every process consults, so that a
// session ended in one process (sign-out, a refresh token reused) is refused by all of them
// within a second. In process: adapters/memory; Redis: adapters/redis (a sorted set).
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

}  // namespace trellis::platform::ports
