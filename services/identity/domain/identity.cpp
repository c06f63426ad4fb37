#include "services/identity/domain/identity.hpp"

namespace trellis::identity::domain {

using platform::core::AtLeast;
using platform::core::ErrorCode;
using platform::core::Fail;
using platform::core::Result;

namespace {
constexpr std::size_t kMinSlug = 3;
constexpr std::size_t kMaxSlug = 40;
constexpr std::size_t kMaxEmail = 254;  // RFC 5321 path limit

bool IsSlugChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }
}  // namespace

std::string_view StatusName(MemberStatus status) {
  return status == MemberStatus::kActive ? "active" : "pending";
}

Role Required(Action action) {
  switch (action) {
    case Action::kReadOrg:
    case Action::kListMembers: return Role::kViewer;
    case Action::kUpdateOrg:
    case Action::kInviteMember:
    case Action::kChangeMemberRole:
    case Action::kRemoveMember:
    case Action::kListApiKeys:
    case Action::kCreateApiKey:
    case Action::kRevokeApiKey: return Role::kAdmin;
  }
  return Role::kOwner;
}

std::string_view CheckSlug(std::string_view slug) {
  if (slug.size() < kMinSlug || slug.size() > kMaxSlug) return "must be 3 to 40 characters";
  for (char c : slug) {
    if (!IsSlugChar(c)) return "may contain only a-z, 0-9 and '-'";
  }
  if (slug.front() == '-' || slug.back() == '-') return "must start and end with a letter or digit";
  return {};
}

std::string_view CheckEmail(std::string_view email) {
  if (email.size() > kMaxEmail) return "is too long";
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 ||
      email.find('@', at + 1) != std::string_view::npos) {
    return "must be an email address";
  }
  const auto domain = email.substr(at + 1);
  const auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.') {
    return "must be an email address";
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return "must be an email address";
  }
  return {};
}

std::string_view CheckRoleName(std::string_view role) {
  return platform::core::ParseRole(role) ? std::string_view()
                                         : "must be owner, admin, member or viewer";
}

std::string CanonicalEmail(std::string_view email) {
  std::string out(email);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool MayGrant(Role actor_role, Role granted) {
  if (actor_role == Role::kOwner) return true;
  return actor_role == Role::kAdmin && granted != Role::kOwner;
}

Result<void> CheckRoleChange(Role actor_role, const Member& target, Role new_role,
                             std::int64_t owners) {
  if (!AtLeast(actor_role, Role::kAdmin)) {
    return Fail(ErrorCode::kPermissionDenied, "only admins and owners change roles");
  }
  if (target.role == Role::kOwner && actor_role != Role::kOwner) {
    return Fail(ErrorCode::kPermissionDenied, "only an owner changes an owner's role");
  }
  if (!MayGrant(actor_role, new_role)) {
    return Fail(ErrorCode::kPermissionDenied, "only an owner grants the owner role");
  }
  if (target.role == Role::kOwner && new_role != Role::kOwner &&
      target.status == MemberStatus::kActive && owners <= 1) {
    return Fail(ErrorCode::kAborted, "an org must keep at least one owner");
  }
  return {};
}

Result<void> CheckRemoval(Role actor_role, bool self, const Member& target, std::int64_t owners) {
  if (!self) {
    if (!AtLeast(actor_role, Role::kAdmin)) {
      return Fail(ErrorCode::kPermissionDenied, "only admins and owners remove members");
    }
    if (target.role == Role::kOwner && actor_role != Role::kOwner) {
      return Fail(ErrorCode::kPermissionDenied, "only an owner removes an owner");
    }
  }
  if (target.role == Role::kOwner && target.status == MemberStatus::kActive && owners <= 1) {
    return Fail(ErrorCode::kAborted, "an org must keep at least one owner");
  }
  return {};
}

}  // namespace trellis::identity::domain
