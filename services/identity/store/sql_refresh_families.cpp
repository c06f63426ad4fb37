#include "services/identity/store/sql_refresh_families.hpp"

#include <chrono>
#include <cstdint>
#include <utility>

#include "services/identity/store/oidc_store.hpp"

namespace trellis::identity::store {

using platform::core::Result;
using platform::ports::RefreshGrant;
using platform::ports::RotateOutcome;
using platform::ports::Rotation;
using platform::ports::TransactionOptions;
using MonoTime = platform::core::Clock::MonoTime;
using WallTime = platform::core::Clock::WallTime;

namespace {

std::int64_t EpochMs(WallTime t) {
  // Rounded up, as the Redis adapter does: live until the later millisecond.
  return std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

RefreshGrant GrantOf(const RefreshTokenRow& t) {
  RefreshGrant g;
  g.family_id = t.family_id;
  g.session_id = t.session_id;
  g.user_id = t.user_id;
  g.client_id = t.client_id;
  g.scope = t.scope;
  g.auth_time_ms = t.auth_time_ms;
  return g;
}

}  // namespace

std::int64_t SqlRefreshFamilies::NowMs() const {
  return std::chrono::floor<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count();
}

boost::asio::awaitable<Result<bool>> SqlRefreshFamilies::Issue(std::string token_sha256,
                                                               RefreshGrant grant,
                                                               WallTime expires_at,
                                                               MonoTime deadline) {
  const std::int64_t now = NowMs();
  bool issued = false;
  auto done = co_await store_.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        issued = false;  // the body may run again (a retried transaction)
        auto session = co_await FindSessionById(tx, grant.session_id);
        if (!session) co_return std::unexpected(session.error());
        if (!*session || (*session)->ended_at_ms) co_return Result<void>();
        RefreshTokenRow row;
        row.token_sha256 = token_sha256;
        row.family_id = grant.family_id;
        row.user_id = grant.user_id;
        row.client_id = grant.client_id;
        row.scope = grant.scope;
        row.session_id = grant.session_id;
        row.auth_time_ms = grant.auth_time_ms;
        row.created_at_ms = now;
        row.expires_at_ms = EpochMs(expires_at);
        auto inserted = co_await InsertRefreshToken(tx, row);
        if (!inserted) co_return std::unexpected(inserted.error());
        issued = true;
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_return issued;
}

boost::asio::awaitable<Result<Rotation>> SqlRefreshFamilies::Rotate(std::string token_sha256,
                                                                    std::string client_id,
                                                                    std::string next_sha256,
                                                                    WallTime next_expires_at,
                                                                    MonoTime deadline) {
  const std::int64_t now = NowMs();
  Rotation out;
  auto done = co_await store_.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        out = Rotation{};  // the body may run again (a retried transaction)
        auto found = co_await FindRefreshToken(tx, token_sha256);
        if (!found) co_return std::unexpected(found.error());
        if (!*found) co_return Result<void>();  // kUnknown
        const RefreshTokenRow& t = **found;
        out.grant = GrantOf(t);
        if (t.revoked_at_ms) {
          out.outcome = RotateOutcome::kRevoked;
          co_return Result<void>();
        }
        if (t.client_id != client_id) {
          out.outcome = RotateOutcome::kWrongClient;
          co_return Result<void>();
        }
        bool live = !t.used_at_ms;
        if (live) {
          // Conditional: of two rotations racing on one token, one changes the row.
          auto marked = co_await MarkRefreshTokenUsed(tx, token_sha256, now);
          if (!marked) co_return std::unexpected(marked.error());
          live = *marked;
        }
        if (!live) {
          auto revoked = co_await RevokeRefreshFamily(tx, t.family_id, now);
          if (!revoked) co_return std::unexpected(revoked.error());
          out.outcome = RotateOutcome::kReused;
          co_return Result<void>();
        }
        if (t.expires_at_ms <= now) {
          out.outcome = RotateOutcome::kExpired;
          co_return Result<void>();
        }
        RefreshTokenRow next = t;
        next.token_sha256 = next_sha256;
        next.created_at_ms = now;
        next.expires_at_ms = EpochMs(next_expires_at);
        next.used_at_ms.reset();
        next.revoked_at_ms.reset();
        auto inserted = co_await InsertRefreshToken(tx, next);
        if (!inserted) co_return std::unexpected(inserted.error());
        out.outcome = RotateOutcome::kRotated;
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

boost::asio::awaitable<Result<void>> SqlRefreshFamilies::RevokeFamily(std::string family_id,
                                                                      MonoTime deadline) {
  const std::int64_t now = NowMs();
  co_return co_await store_.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto revoked = co_await RevokeRefreshFamily(tx, family_id, now);
        if (!revoked) co_return std::unexpected(revoked.error());
        co_return Result<void>();
      });
}

boost::asio::awaitable<Result<void>> SqlRefreshFamilies::RevokeSession(std::string session_id,
                                                                       MonoTime deadline) {
  const std::int64_t now = NowMs();
  co_return co_await store_.Transact(
      TransactionOptions().Deadline(deadline), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto ended = co_await EndSession(tx, session_id, now);
        if (!ended) co_return std::unexpected(ended.error());
        co_return co_await RevokeSessionRefreshTokens(tx, session_id, now);
      });
}

}  // namespace trellis::identity::store
