#include "services/audit/domain/audit.hpp"

#include <string>

namespace trellis::audit::domain {

using platform::core::ErrorCode;
using platform::core::Role;

Role MinimumRole(Action action) {
  switch (action) {
    case Action::kViewAuditEvents: return Role::kAdmin;
  }
  return Role::kOwner;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kViewAuditEvents: return "view audit events";
  }
  return "unknown";
}

platform::core::Result<void> Authorize(Role role, Action action) {
  const Role need = MinimumRole(action);
  if (platform::core::AtLeast(role, need)) return {};
  return platform::core::Fail(ErrorCode::kPermissionDenied,
                              std::string("only an ") +
                                  std::string(platform::core::RoleName(need)) + " or above may " +
                                  std::string(ActionName(action)));
}

std::string_view CheckActor(std::string_view actor) {
  if (actor.empty()) return "must not be empty";
  if (actor.size() > kMaxActorLength) return "must be at most 100 characters";
  for (char c : actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "must not contain control characters";
  }
  return {};
}

std::string_view CheckAction(std::string_view action) {
  if (action.empty()) return "must not be empty";
  if (action.size() > kMaxActionLength) return "must be at most 100 characters";
  for (char c : action) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return "must be an event type such as work.task.created";
  }
  return {};
}

}  // namespace trellis::audit::domain
