// The Redis adapter of the refresh-token half of the token store port
// (platform/ports/token_store.hpp, RefreshFamilies; ADR 0026): refresh tokens, their families
// and the sessions they belong to, shared by every process. Each call is one Lua script (one
// round trip), so a rotation is atomic: of two processes rotating one token, one wins and the
// other's call revokes the family.
//
// Keys under `key_prefix`: `t:<sha256>` (hash: the grant, `e` the expiry in ms, `st` live|used),
// `f:<family>` ("0" live, "1" revoked), `s:<session>` (set: the session's families) and
// `e:<session>` (the session was revoked; refuses families issued later). Every key expires
// `retain` after the last expiry of the tokens it serves, so a used token is still recognised
// (and its reuse punished) until it would have expired anyway. Scripts name the family and
// session keys they derive from a token, so this is for a single Redis (or a Sentinel-managed
// master), not Redis Cluster. Times come from the injected clock, as the expiries do.
//
//   RedisRefreshFamilies families(client, clock, RedisRefreshFamiliesSettings{});
//   auto r = co_await families.Rotate(hash, client_id, next_hash, expires_at, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::adapters::redis {

struct RedisRefreshFamiliesSettings {
  std::string key_prefix = "trellis:rt:";
  // How long a token's key outlives its expiry (an expired token is then "expired", not
  // "unknown", for this long).
  std::chrono::milliseconds retain{std::chrono::minutes(1)};
  // How long a revoked session refuses new families: longer than an authorization code lives.
  std::chrono::milliseconds ended_session{std::chrono::hours(1)};
};

class RedisRefreshFamilies final : public platform::ports::RefreshFamilies {
 public:
  // `client` and `clock` must outlive this.
  RedisRefreshFamilies(RedisClient& client, const platform::core::Clock& clock,
                       RedisRefreshFamiliesSettings settings);

  // RefreshFamilies
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<bool>> Issue(
      std::string token_sha256, platform::ports::RefreshGrant grant,
      platform::core::Clock::WallTime expires_at,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<platform::ports::Rotation>> Rotate(
      std::string token_sha256, std::string client_id, std::string next_sha256,
      platform::core::Clock::WallTime next_expires_at,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> RevokeFamily(
      std::string family_id, platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> RevokeSession(
      std::string session_id, platform::core::Clock::MonoTime deadline) override;

 private:
  RedisClient& client_;
  const platform::core::Clock& clock_;
  const RedisRefreshFamiliesSettings settings_;
};

}  // namespace trellis::adapters::redis
