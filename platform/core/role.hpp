// The roles a member (or an API key) holds in an org, weakest first. What each role may do is
// decided per context (identity, work, audit) in its domain/; docs/permissions.md is the matrix.
//
//   auto role = ParseRole("admin");          // std::optional<Role>
//   if (AtLeast(*role, Role::kMember)) ...
#pragma once

#include <optional>
#include <string_view>

namespace trellis::platform::core {

enum class Role { kViewer = 0, kMember = 1, kAdmin = 2, kOwner = 3 };

[[nodiscard]] constexpr bool AtLeast(Role have, Role need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

[[nodiscard]] constexpr std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kMember: return "member";
    case Role::kAdmin: return "admin";
    case Role::kOwner: return "owner";
  }
  return "viewer";
}

[[nodiscard]] constexpr std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kMember, Role::kAdmin, Role::kOwner}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

}  // namespace trellis::platform::core
