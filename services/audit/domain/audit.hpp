// The audit context's domain: an audit entry, the filters of a query over the log, and who may
// read it. No I/O.
//
//   action                 weakest role  note
//   view audit events      admin         owner and admin; member and viewer get 403
//
//   if (auto ok = Authorize(role, Action::kViewAuditEvents); !ok) co_return std::unexpected(...);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"
#include "platform/core/role.hpp"

namespace trellis::audit::domain {

// One projected domain event.
struct AuditEvent {
  std::string org_id;
  std::string id;  // the event id
  std::int64_t seq = 0;
  std::int64_t occurred_at_ms = 0;
  std::string actor_id;
  std::string action;  // the event type
  std::string subject_id;
  std::string payload;  // a JSON object
};

struct AuditFilter {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::int64_t> since_ms;  // inclusive
  std::optional<std::int64_t> until_ms;  // exclusive
};

enum class Action { kViewAuditEvents };

inline constexpr std::size_t kMaxActorLength = 100;
inline constexpr std::size_t kMaxActionLength = 100;

[[nodiscard]] platform::core::Role MinimumRole(Action action);
[[nodiscard]] std::string_view ActionName(Action action);
// Success, or kPermissionDenied (403) naming the role needed.
[[nodiscard]] platform::core::Result<void> Authorize(platform::core::Role role, Action action);

// "" when `actor` can be an actor id (1..100 characters, no control characters), else why not.
[[nodiscard]] std::string_view CheckActor(std::string_view actor);
// "" when `action` can be an event type ("work.task.created": lower-case letters, digits, '_'
// and '.', 1..100 characters), else why not.
[[nodiscard]] std::string_view CheckAction(std::string_view action);

}  // namespace trellis::audit::domain
