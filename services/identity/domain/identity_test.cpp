#include "services/identity/domain/identity.hpp"

#include <gtest/gtest.h>

namespace trellis::identity::domain {
namespace {

using platform::core::ErrorCode;

Member Active(Role role) {
  Member m;
  m.role = role;
  m.status = MemberStatus::kActive;
  return m;
}

TEST(IdentityDomain, SlugRules) {
  EXPECT_EQ(CheckSlug("acme"), "");
  EXPECT_EQ(CheckSlug("a-1-b"), "");
  EXPECT_NE(CheckSlug("ab"), "");
  EXPECT_NE(CheckSlug(std::string(41, 'a')), "");
  EXPECT_NE(CheckSlug("Acme"), "");
  EXPECT_NE(CheckSlug("-acme"), "");
  EXPECT_NE(CheckSlug("acme-"), "");
  EXPECT_NE(CheckSlug("ac me"), "");
  EXPECT_NE(CheckSlug("acmé"), "");
}

TEST(IdentityDomain, EmailRules) {
  EXPECT_EQ(CheckEmail("ada@example.com"), "");
  EXPECT_NE(CheckEmail("ada"), "");
  EXPECT_NE(CheckEmail("@example.com"), "");
  EXPECT_NE(CheckEmail("ada@example"), "");
  EXPECT_NE(CheckEmail("ada@@example.com"), "");
  EXPECT_NE(CheckEmail("a da@example.com"), "");
  EXPECT_NE(CheckEmail("ada@example.com."), "");
  EXPECT_EQ(CanonicalEmail("Ada@Example.COM"), "ada@example.com");
}

TEST(IdentityDomain, PermissionTable) {
  EXPECT_TRUE(Allowed(Role::kViewer, Action::kReadOrg));
  EXPECT_TRUE(Allowed(Role::kViewer, Action::kListMembers));
  for (Action a :
       {Action::kUpdateOrg, Action::kInviteMember, Action::kChangeMemberRole, Action::kRemoveMember,
        Action::kListApiKeys, Action::kCreateApiKey, Action::kRevokeApiKey}) {
    EXPECT_FALSE(Allowed(Role::kViewer, a));
    EXPECT_FALSE(Allowed(Role::kMember, a));
    EXPECT_TRUE(Allowed(Role::kAdmin, a));
    EXPECT_TRUE(Allowed(Role::kOwner, a));
  }
}

TEST(IdentityDomain, GrantRules) {
  EXPECT_TRUE(MayGrant(Role::kOwner, Role::kOwner));
  EXPECT_TRUE(MayGrant(Role::kAdmin, Role::kAdmin));
  EXPECT_FALSE(MayGrant(Role::kAdmin, Role::kOwner));
  EXPECT_FALSE(MayGrant(Role::kMember, Role::kViewer));
}

TEST(IdentityDomain, LastOwnerIsKept) {
  EXPECT_EQ(CheckRoleChange(Role::kOwner, Active(Role::kOwner), Role::kAdmin, 1).error().code,
            ErrorCode::kAborted);
  EXPECT_TRUE(CheckRoleChange(Role::kOwner, Active(Role::kOwner), Role::kAdmin, 2));
  EXPECT_EQ(CheckRemoval(Role::kOwner, true, Active(Role::kOwner), 1).error().code,
            ErrorCode::kAborted);
  EXPECT_TRUE(CheckRemoval(Role::kOwner, true, Active(Role::kOwner), 2));
}

TEST(IdentityDomain, AdminsCannotTouchOwners) {
  EXPECT_EQ(CheckRoleChange(Role::kAdmin, Active(Role::kOwner), Role::kMember, 2).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CheckRemoval(Role::kAdmin, false, Active(Role::kOwner), 2).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(CheckRemoval(Role::kAdmin, false, Active(Role::kMember), 1));
  EXPECT_EQ(CheckRemoval(Role::kMember, false, Active(Role::kViewer), 1).error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(CheckRemoval(Role::kMember, true, Active(Role::kMember), 1));  // leaving
}

}  // namespace
}  // namespace trellis::identity::domain
