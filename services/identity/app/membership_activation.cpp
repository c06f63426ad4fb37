#include "services/identity/app/membership_activation.hpp"

#include <utility>

#include "platform/events/outbox.hpp"
#include "services/identity/app/views.hpp"
#include "services/identity/store/identity_store.hpp"

namespace trellis::identity::app {

using platform::ports::Awaitable;
using platform::ports::SqlParams;

Awaitable<std::int64_t> ActivatePendingMemberships(platform::ports::SqlTransaction& tx,
                                                   const std::string& user_id,
                                                   const std::string& email, std::int64_t now_ms,
                                                   platform::core::IdGenerator& ids) {
  SqlParams find{email};
  auto pending = co_await tx.Execute(
      "SELECT org_id, id FROM memberships WHERE email = $1 AND status = 'pending'",
      std::move(find));
  if (!pending) co_return std::unexpected(pending.error());
  std::int64_t joined = 0;
  for (const auto& row : pending->rows) {
    auto org_id = row.Get<std::string>("org_id");
    auto id = row.Get<std::string>("id");
    if (!org_id || !id) co_return std::unexpected(!org_id ? org_id.error() : id.error());
    // A user already active in the org under another address keeps that membership.
    SqlParams activate{*org_id, *id, user_id, now_ms};
    auto updated = co_await tx.Execute(
        "UPDATE memberships SET user_id = $3, status = 'active', updated_at_ms = $4, "
        "version = version + 1 WHERE org_id = $1 AND id = $2 AND NOT EXISTS ("
        "SELECT 1 FROM memberships o WHERE o.org_id = $1 AND o.user_id = $3)",
        std::move(activate));
    if (!updated) co_return std::unexpected(updated.error());
    if (updated->rows_affected == 0) continue;
    auto member = co_await store::GetMember(tx, *org_id, *id);
    if (!member) co_return std::unexpected(member.error());
    if (!*member) continue;
    platform::events::DomainEvent event;
    event.id = ids.Next();
    event.type = "identity.member.joined";
    event.org_id = *org_id;
    event.actor_id = user_id;
    event.subject_id = *id;
    event.payload = MemberJson(**member);
    event.occurred_at_ms = now_ms;
    auto appended = co_await platform::events::AppendToOutbox(tx, event);
    if (!appended) co_return std::unexpected(appended.error());
    ++joined;
  }
  // No cache invalidation: only active roles are cached, and activation only creates them.
  co_return joined;
}

}  // namespace trellis::identity::app
