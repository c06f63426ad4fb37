// The identity context's rules: what users, orgs, memberships and API keys are, which role may
// do what, and how values are checked. No I/O.
//
//   if (auto why = CheckSlug(slug); !why.empty()) reject("/slug", why);
//   if (!Allowed(role, Action::kInviteMember)) return Forbidden();
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"
#include "platform/core/role.hpp"

namespace trellis::identity::domain {

using platform::core::Role;

struct User {
  std::string id;
  std::string email;
  std::string name;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

struct Org {
  std::string id;
  std::string slug;
  std::string name;
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 1;
};

enum class MemberStatus { kPending, kActive };
[[nodiscard]] std::string_view StatusName(MemberStatus status);

struct Member {
  std::string org_id;
  std::string id;
  std::string user_id;  // empty while pending
  std::string email;
  Role role = Role::kMember;
  MemberStatus status = MemberStatus::kPending;
  std::string invited_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 1;
};

struct ApiKey {
  std::string org_id;
  std::string id;
  std::string name;
  Role role = Role::kViewer;
  std::string prefix;
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::optional<std::int64_t> revoked_at_ms;
  std::int64_t version = 1;
};

// What a caller may do in an org; Required() is the weakest role allowed (docs/permissions.md).
enum class Action {
  kReadOrg,
  kUpdateOrg,
  kListMembers,
  kInviteMember,
  kChangeMemberRole,
  kRemoveMember,
  kListApiKeys,
  kCreateApiKey,
  kRevokeApiKey,
};
[[nodiscard]] Role Required(Action action);
[[nodiscard]] inline bool Allowed(Role role, Action action) {
  return platform::core::AtLeast(role, Required(action));
}

// Field checks in the shape of http::StringCheck: "" when valid, else a message.
// Slugs: 3-40 of a-z, 0-9 and '-', starting and ending with a letter or digit.
[[nodiscard]] std::string_view CheckSlug(std::string_view slug);
// A plausible address: one '@', a non-empty local part, a dotted domain, no spaces; ≤ 254.
[[nodiscard]] std::string_view CheckEmail(std::string_view email);
// A role name the API accepts.
[[nodiscard]] std::string_view CheckRoleName(std::string_view role);
// Lower-cases ASCII letters; emails are compared and stored this way.
[[nodiscard]] std::string CanonicalEmail(std::string_view email);

// Whether `actor` (with role actor_role) may give a membership or key the role `granted`:
// owners grant any role, admins any role but owner; nobody else grants.
[[nodiscard]] bool MayGrant(Role actor_role, Role granted);

// Role changes and removals must leave the org at least one owner; an admin may not change
// or remove an owner. `owners` counts the org's active owners before the change.
[[nodiscard]] platform::core::Result<void> CheckRoleChange(Role actor_role, const Member& target,
                                                           Role new_role, std::int64_t owners);
// Removal: owners and admins remove others (admins not owners); anyone may leave (self),
// except the last owner.
[[nodiscard]] platform::core::Result<void> CheckRemoval(Role actor_role, bool self,
                                                        const Member& target, std::int64_t owners);

}  // namespace trellis::identity::domain
