#include "services/work/domain/work_permissions.hpp"

#include <string>

namespace trellis::work::domain {

namespace core = platform::core;
using core::Role;

Role MinimumRole(Action action) {
  switch (action) {
    case Action::kViewProject:
    case Action::kViewTask:
    case Action::kViewComment: return Role::kViewer;
    case Action::kCreateProject:
    case Action::kUpdateProject:
    case Action::kCreateTask:
    case Action::kUpdateTask:
    case Action::kDeleteOwnTask:
    case Action::kCreateComment:
    case Action::kEditOwnComment:
    case Action::kDeleteOwnComment: return Role::kMember;
    case Action::kArchiveProject:
    case Action::kDeleteAnyTask:
    case Action::kDeleteAnyComment: return Role::kAdmin;
  }
  return Role::kOwner;  // unreachable; the strictest answer if it ever is
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kViewProject: return "view project";
    case Action::kCreateProject: return "create project";
    case Action::kUpdateProject: return "update project";
    case Action::kArchiveProject: return "archive project";
    case Action::kViewTask: return "view task";
    case Action::kCreateTask: return "create task";
    case Action::kUpdateTask: return "update task";
    case Action::kDeleteOwnTask: return "delete own task";
    case Action::kDeleteAnyTask: return "delete any task";
    case Action::kViewComment: return "view comment";
    case Action::kCreateComment: return "create comment";
    case Action::kEditOwnComment: return "edit own comment";
    case Action::kDeleteOwnComment: return "delete own comment";
    case Action::kDeleteAnyComment: return "delete any comment";
  }
  return "unknown";
}

bool Allowed(Role role, Action action) { return core::AtLeast(role, MinimumRole(action)); }

core::Result<void> Authorize(Role role, Action action) {
  if (Allowed(role, action)) return {};
  std::string message = "your role does not allow this: ";
  message += ActionName(action);
  message += " needs ";
  message += core::RoleName(MinimumRole(action));
  return core::Fail(core::ErrorCode::kPermissionDenied, std::move(message));
}

}  // namespace trellis::work::domain
