// Who may do what in the work context: one table from action to the weakest role allowed.
// Owner >= admin >= member >= viewer (platform/core/role.hpp). docs/permissions.md copies it.
//
//   action                  weakest role  note
//   view project/task/comment  viewer
//   create project             member
//   update project             member      name and description
//   archive project            admin       PATCH {"archived": true|false}
//   create task                member
//   update task                member      any task of the org (status, assignee, ...)
//   delete own task            member      the task's creator
//   delete any task            admin
//   create comment             member
//   edit own comment           member      only the author edits a comment, whatever the role
//   delete own comment         member
//   delete any comment         admin
//
//   if (auto ok = Authorize(role, Action::kCreateTask); !ok) co_return std::unexpected(...);
#pragma once

#include <string_view>

#include "platform/core/error.hpp"
#include "platform/core/role.hpp"

namespace trellis::work::domain {

enum class Action {
  kViewProject,
  kCreateProject,
  kUpdateProject,
  kArchiveProject,
  kViewTask,
  kCreateTask,
  kUpdateTask,
  kDeleteOwnTask,
  kDeleteAnyTask,
  kViewComment,
  kCreateComment,
  kEditOwnComment,
  kDeleteOwnComment,
  kDeleteAnyComment,
};

inline constexpr Action kAllActions[] = {
    Action::kViewProject,      Action::kCreateProject,    Action::kUpdateProject,
    Action::kArchiveProject,   Action::kViewTask,         Action::kCreateTask,
    Action::kUpdateTask,       Action::kDeleteOwnTask,    Action::kDeleteAnyTask,
    Action::kViewComment,      Action::kCreateComment,    Action::kEditOwnComment,
    Action::kDeleteOwnComment, Action::kDeleteAnyComment,
};

// The weakest role allowed to perform the action.
[[nodiscard]] platform::core::Role MinimumRole(Action action);
[[nodiscard]] std::string_view ActionName(Action action);
[[nodiscard]] bool Allowed(platform::core::Role role, Action action);
// Success, or kPermissionDenied (403) naming the role needed.
[[nodiscard]] platform::core::Result<void> Authorize(platform::core::Role role, Action action);

}  // namespace trellis::work::domain
