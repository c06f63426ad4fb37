// How other contexts and the gateway call identity: one C++ interface over the proto messages.
// services/identity implements it in-process; a gRPC stub implements it in the split shape.
// Callers hold an IdentityClient& and never know which.
//
//   GetMembershipRequest rq; rq.set_org_id(org); rq.set_user_id(user);
//   auto m = co_await identity.GetMembership(rq, call);   // kNotFound: not an active member
#pragma once

#include <boost/asio/awaitable.hpp>

#include "platform/core/call_context.hpp"
#include "platform/core/error.hpp"
#include "platform/core/principal.hpp"
#include "platform/core/role.hpp"
#include "proto/trellis/identity/v1/identity.pb.h"

namespace trellis::identity::v1 {

template <typename T>
using Call = boost::asio::awaitable<platform::core::Result<T>>;

class IdentityClient {
 public:
  virtual ~IdentityClient() = default;
  // kNotFound unless the user is an active member of the org.
  [[nodiscard]] virtual Call<Membership> GetMembership(GetMembershipRequest request,
                                                       platform::core::CallContext call) = 0;
  // kUnauthenticated for an unknown, malformed or revoked key.
  [[nodiscard]] virtual Call<ApiKeyPrincipal> AuthenticateApiKey(
      AuthenticateApiKeyRequest request, platform::core::CallContext call) = 0;
  // The user keyed by issuer + subject, created on first sight.
  [[nodiscard]] virtual Call<User> ResolveSubject(ResolveSubjectRequest request,
                                                  platform::core::CallContext call) = 0;
};

// Conversions between the proto enum and the platform's Role.
[[nodiscard]] inline platform::core::Role ToCoreRole(Role role) {
  switch (role) {
    case ROLE_OWNER: return platform::core::Role::kOwner;
    case ROLE_ADMIN: return platform::core::Role::kAdmin;
    case ROLE_MEMBER: return platform::core::Role::kMember;
    default: return platform::core::Role::kViewer;
  }
}
[[nodiscard]] inline Role FromCoreRole(platform::core::Role role) {
  switch (role) {
    case platform::core::Role::kOwner: return ROLE_OWNER;
    case platform::core::Role::kAdmin: return ROLE_ADMIN;
    case platform::core::Role::kMember: return ROLE_MEMBER;
    case platform::core::Role::kViewer: return ROLE_VIEWER;
  }
  return ROLE_VIEWER;
}

// The caller's role in an org, as every context's use cases resolve it: an API key has its
// own role in its one org; a user has the role of their active membership. Another org, or no
// membership, is kNotFound ("no such organization": an org one is not in does not exist for
// one); a principal with neither key nor user is kUnauthenticated.
[[nodiscard]] inline Call<platform::core::Role> RoleIn(IdentityClient& identity,
                                                       const platform::core::Principal& who,
                                                       std::string org_id,
                                                       platform::core::CallContext call) {
  using platform::core::ErrorCode;
  if (who.IsApiKey()) {
    if (who.api_key_org_id != org_id) {
      co_return platform::core::Fail(ErrorCode::kNotFound, "no such organization",
                                     "API key of another org");
    }
    co_return who.api_key_role;
  }
  if (who.user_id.empty()) {
    co_return platform::core::Fail(ErrorCode::kUnauthenticated, "sign in first");
  }
  GetMembershipRequest request;
  request.set_org_id(std::move(org_id));
  request.set_user_id(who.user_id);
  auto membership = co_await identity.GetMembership(std::move(request), std::move(call));
  if (!membership) {
    if (membership.error().code == ErrorCode::kNotFound) {
      co_return platform::core::Fail(ErrorCode::kNotFound, "no such organization",
                                     "not an active member");
    }
    co_return std::unexpected(membership.error());
  }
  co_return ToCoreRole(membership->role());
}

}  // namespace trellis::identity::v1
