// The public JSON of identity's resources: the API's response bodies and the domain events'
// payloads are the same text, so a live subscriber sees exactly what a GET would return.
//
//   std::string body = OrgJson(org, Role::kOwner);
#pragma once

#include <optional>
#include <string>

#include "services/identity/domain/identity.hpp"

namespace trellis::identity::app {

[[nodiscard]] std::string UserJson(const domain::User& user);
// `role`: the caller's role in the org, when the view is for a member.
[[nodiscard]] std::string OrgJson(const domain::Org& org, std::optional<domain::Role> role);
[[nodiscard]] std::string MemberJson(const domain::Member& member);
// `secret`: only in the response that creates the key.
[[nodiscard]] std::string ApiKeyJson(const domain::ApiKey& key,
                                     const std::optional<std::string>& secret = std::nullopt);

}  // namespace trellis::identity::app
