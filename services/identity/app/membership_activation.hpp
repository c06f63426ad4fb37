// Turning pending invitations into memberships when their invitee first exists as a user.
// Called inside the transaction that creates the user (sign-up at the built-in issuer, or
// first sight of an external issuer's subject).
//
//   auto joined = co_await ActivatePendingMemberships(tx, user_id, email, now_ms, ids);
#pragma once

#include <cstdint>
#include <string>

#include "platform/core/ids.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::identity::app {

// Sets user_id and status 'active' on every pending membership for `email` (lower-cased by the
// caller) and appends a "identity.member.joined" event per org to the outbox. Returns how many.
[[nodiscard]] platform::ports::Awaitable<std::int64_t> ActivatePendingMemberships(
    platform::ports::SqlTransaction& tx, const std::string& user_id, const std::string& email,
    std::int64_t now_ms, platform::core::IdGenerator& ids);

}  // namespace trellis::identity::app
