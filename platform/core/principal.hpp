// Who is calling: set by the gateway's authentication, read by the use cases in app/.
//
//   const Principal* who = req.ctx.principal.get();
//   if (!who) return Fail(ErrorCode::kUnauthenticated, "sign in first");
//   if (who->IsApiKey() && who->api_key_org_id != org) return NotFound();
#pragma once

#include <string>

#include "platform/core/role.hpp"

namespace trellis::platform::core {

struct Principal {
  enum class Kind { kUser, kApiKey };
  Kind kind = Kind::kUser;
  // The Trellis user. For an API key, the user who created it (for the audit trail); the
  // key's own org and role, not that user's memberships, decide what it may do.
  std::string user_id;
  // For users: the access token's issuer and subject; a user is keyed by both.
  std::string issuer;
  std::string subject;
  std::string email;
  std::string name;
  // For API keys: the key's id, its one org and its role there.
  std::string api_key_id;
  std::string api_key_org_id;
  Role api_key_role = Role::kViewer;

  [[nodiscard]] bool IsApiKey() const { return kind == Kind::kApiKey; }
  // The id recorded as the actor of what this principal does.
  [[nodiscard]] const std::string& ActorId() const { return IsApiKey() ? api_key_id : user_id; }
};

}  // namespace trellis::platform::core
