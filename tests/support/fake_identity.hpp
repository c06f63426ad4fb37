// A stand-in for the identity context in other contexts' tests: memberships from a table,
// everything else refused. (A test double of another context, as the house rules allow: the
// real IdentityApp is exercised by the identity and end-to-end suites.)
//
//   FakeIdentity identity;
//   identity.Set("org-a", "user-1", Role::kMember);
//   WorkApp app(store, identity, clock, ids, {});
#pragma once

#include <map>
#include <string>
#include <utility>

#include "platform/core/role.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"

namespace trellis::tests::support {

class FakeIdentity final : public identity::v1::IdentityClient {
 public:
  void Set(std::string org, std::string user, platform::core::Role role) {
    roles_[{std::move(org), std::move(user)}] = role;
  }
  void Add(std::string org, std::string user, platform::core::Role role) {
    Set(std::move(org), std::move(user), role);
  }
  void Remove(const std::string& org, const std::string& user) { roles_.erase({org, user}); }
  // How many GetMembership calls were made (tests of "one identity call per request").
  int membership_calls = 0;
  // The context of the last GetMembership call (deadline and trace must be passed on).
  platform::core::CallContext last_call;

  // IdentityClient
  identity::v1::Call<identity::v1::Membership> GetMembership(
      identity::v1::GetMembershipRequest request, platform::core::CallContext call) override {
    ++membership_calls;
    last_call = call;
    auto it = roles_.find({request.org_id(), request.user_id()});
    if (it == roles_.end()) {
      co_return platform::core::Fail(platform::core::ErrorCode::kNotFound, "not a member");
    }
    identity::v1::Membership m;
    m.set_org_id(request.org_id());
    m.set_user_id(request.user_id());
    m.set_role(identity::v1::FromCoreRole(it->second));
    co_return m;
  }
  identity::v1::Call<identity::v1::ApiKeyPrincipal> AuthenticateApiKey(
      identity::v1::AuthenticateApiKeyRequest, platform::core::CallContext) override {
    co_return platform::core::Fail(platform::core::ErrorCode::kUnauthenticated, "no API keys");
  }
  identity::v1::Call<identity::v1::User> ResolveSubject(identity::v1::ResolveSubjectRequest,
                                                        platform::core::CallContext) override {
    co_return platform::core::Fail(platform::core::ErrorCode::kUnimplemented, "no subjects");
  }

 private:
  std::map<std::pair<std::string, std::string>, platform::core::Role> roles_;
};

}  // namespace trellis::tests::support
