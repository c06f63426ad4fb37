// Identity's published cache contract for memberships (ADR 0019): callers of GetMembership may
// keep an active member's role in the shared cache under namespace "members:<org>", which
// identity's membership events (identity.member.*) invalidate. Only positive answers are kept:
// a membership that does not exist yet is asked for every time, so a new one is seen at once.
// A caller puts MembershipRef in the same CacheAside::Read as its own entries, so that the role
// and, say, a page of tasks come back in one round trip.
//
//   refs.push_back(MembershipRef(org, who.user_id));  refs.push_back(PageRef(org, key));
//   auto slots = co_await cache.Read(std::move(refs), call.deadline);
//   auto role = co_await CachedRoleIn(&cache, identity, who, org, call, std::move(slots[0]));
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "platform/cache/cache_aside.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"

namespace trellis::identity::v1 {

// Event types that invalidate MembershipNamespace(org).
inline constexpr const char* kMembershipEventPrefix = "identity.member.";
inline constexpr const char* kMembershipNamespacePrefix = "members:";

[[nodiscard]] inline std::string MembershipNamespace(const std::string& org_id) {
  return kMembershipNamespacePrefix + org_id;
}
[[nodiscard]] inline platform::cache::CacheRef MembershipRef(const std::string& org_id,
                                                             const std::string& user_id) {
  return platform::cache::CacheRef(MembershipNamespace(org_id), user_id);
}

// RoleIn (identity_client.hpp) through the cache. `slot` is MembershipRef's slot from the
// caller's Read, or empty to read it here. Without a cache, RoleIn itself.
[[nodiscard]] inline Call<platform::core::Role> CachedRoleIn(
    platform::cache::CacheAside* cache, IdentityClient& identity,
    const platform::core::Principal& who, std::string org_id, platform::core::CallContext call,
    std::optional<platform::cache::CacheSlot> slot = std::nullopt) {
  if (!cache || who.IsApiKey() || who.user_id.empty()) {
    co_return co_await RoleIn(identity, who, std::move(org_id), std::move(call));
  }
  auto ref = MembershipRef(org_id, who.user_id);
  if (!slot) {
    std::vector<platform::cache::CacheRef> refs;
    refs.push_back(ref);
    auto slots = co_await cache->Read(std::move(refs), call.deadline);
    slot = std::move(slots[0]);
  }
  const auto deadline = call.deadline;
  // What goes into the shared cache is read from the primary, never from a replica that may
  // not have replayed the latest membership change.
  platform::core::CallContext fill_call = call;
  fill_call.written.reset();
  platform::cache::CacheAside::Loader load = [&identity, &who, org_id,
                                              fill_call]() -> Call<std::string> {
    auto role = co_await RoleIn(identity, who, org_id, fill_call);
    if (!role) co_return std::unexpected(role.error());
    co_return std::string(platform::core::RoleName(*role));
  };
  auto name = co_await cache->Load(std::move(ref), std::move(*slot), deadline, std::move(load));
  if (!name) co_return std::unexpected(name.error());
  if (auto role = platform::core::ParseRole(*name)) co_return *role;
  co_return platform::core::Fail(platform::core::ErrorCode::kInternal, "unexpected cached value",
                                 "membership cache holds \"" + *name + "\"");
}

}  // namespace trellis::identity::v1
