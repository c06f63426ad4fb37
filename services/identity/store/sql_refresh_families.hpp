// The embedded adapter of the token store's refresh-token half (platform/ports/token_store.hpp,
// RefreshFamilies; ADR 0026): identity's own SQL tables (oidc_refresh_tokens, oidc_sessions;
// migrations/V2__oidc.sql), on SQLite or PostgreSQL. It survives a restart, which an in-process
// map would not: a refresh token handed out stays good until it expires or is revoked. Each call
// is one transaction; a rotation marks the token used with a conditional UPDATE, so of two
// concurrent rotations one wins and the other revokes the family. The distributed shape uses
// adapters/redis/RedisRefreshFamilies; both pass tests/contract/refresh_families_contract.
//
// A grant's user and session must exist (foreign keys); revoking a session also ends it, which
// is what refuses families issued for it later.
//
//   SqlRefreshFamilies families(identity_db, clock);
//   auto r = co_await families.Rotate(hash, client_id, next_hash, expires_at, deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/sql_store.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::identity::store {

class SqlRefreshFamilies final : public platform::ports::RefreshFamilies {
 public:
  // `store` (identity's database) and `clock` must outlive this.
  SqlRefreshFamilies(platform::ports::SqlStore& store, const platform::core::Clock& clock)
      : store_(store), clock_(clock) {}

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
  [[nodiscard]] std::int64_t NowMs() const;

  platform::ports::SqlStore& store_;
  const platform::core::Clock& clock_;
};

}  // namespace trellis::identity::store
