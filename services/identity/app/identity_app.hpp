// The identity context's use cases: the caller, orgs, memberships and API keys, plus the
// internal API other contexts call (IdentityClient, in-process). Authorization lives here:
// each use case resolves the caller's role in the org and checks domain::Required; an org the
// caller is not an active member of is kNotFound, never kPermissionDenied.
//
//   IdentityApp app(store, clock, ids, {.builtin_issuer = url}, [&] { relay.Notify(); });
//   auto org = co_await app.CreateOrg(principal, call, {.name = "Acme", .slug = "acme"});
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "platform/cache/invalidator.hpp"
#include "platform/core/call_context.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/principal.hpp"
#include "platform/ports/sql_store.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"
#include "services/identity/domain/identity.hpp"
#include "services/identity/store/identity_store.hpp"

namespace trellis::identity::app {

template <typename T>
using Call = boost::asio::awaitable<platform::core::Result<T>>;
using platform::core::CallContext;
using platform::core::Principal;
// Whether an If-Match precondition admits the current version.
using VersionCheck = std::function<bool(std::int64_t current)>;

template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_after;  // set when there are more: the last item's key
};

struct CreateOrgInput {
  std::string name;
  std::string slug;
};
struct UpdateOrgInput {
  std::optional<std::string> name;
  std::optional<std::string> slug;
};
struct InviteInput {
  std::string email;
  domain::Role role = domain::Role::kMember;
};
struct CreateApiKeyInput {
  std::string name;
  domain::Role role = domain::Role::kViewer;
};
struct CreatedApiKey {
  domain::ApiKey key;
  std::string secret;  // shown once
};
struct Me {
  std::optional<domain::User> user;  // the user; for an API key, the key's creator
  std::optional<domain::ApiKey> api_key;
};

class IdentityApp final : public identity::v1::IdentityClient {
 public:
  // `invalidator` (may be null) drops the cached roles (membership_cache.hpp in the contract)
  // that a membership change makes wrong.
  IdentityApp(platform::ports::SqlStore& store, const platform::core::Clock& clock,
              platform::core::IdGenerator& ids, std::function<void()> on_commit,
              platform::cache::CacheInvalidator* invalidator = nullptr);

  [[nodiscard]] Call<Me> GetMe(const Principal& who, CallContext call);

  [[nodiscard]] Call<store::OrgWithRole> CreateOrg(const Principal& who, CallContext call,
                                                   CreateOrgInput input);
  [[nodiscard]] Call<Page<store::OrgWithRole>> ListMyOrgs(const Principal& who, CallContext call,
                                                          std::string after, int limit);
  [[nodiscard]] Call<store::OrgWithRole> GetOrg(const Principal& who, CallContext call,
                                                std::string org_id);
  [[nodiscard]] Call<domain::Org> UpdateOrg(const Principal& who, CallContext call,
                                            std::string org_id, UpdateOrgInput input,
                                            VersionCheck if_match);

  [[nodiscard]] Call<Page<domain::Member>> ListMembers(const Principal& who, CallContext call,
                                                       std::string org_id, std::string after,
                                                       int limit);
  [[nodiscard]] Call<domain::Member> InviteMember(const Principal& who, CallContext call,
                                                  std::string org_id, InviteInput input);
  [[nodiscard]] Call<domain::Member> ChangeMemberRole(const Principal& who, CallContext call,
                                                      std::string org_id, std::string member_id,
                                                      domain::Role role, VersionCheck if_match);
  [[nodiscard]] Call<void> RemoveMember(const Principal& who, CallContext call, std::string org_id,
                                        std::string member_id, VersionCheck if_match);

  [[nodiscard]] Call<Page<domain::ApiKey>> ListApiKeys(const Principal& who, CallContext call,
                                                       std::string org_id, std::string after,
                                                       int limit);
  [[nodiscard]] Call<CreatedApiKey> CreateApiKey(const Principal& who, CallContext call,
                                                 std::string org_id, CreateApiKeyInput input);
  [[nodiscard]] Call<domain::ApiKey> RevokeApiKey(const Principal& who, CallContext call,
                                                  std::string org_id, std::string key_id,
                                                  VersionCheck if_match);

  // Administration without a principal (trellis admin create-org / create-user, the demo
  // seed): an org owned by `owner_user_id`.
  [[nodiscard]] Call<domain::Org> AdminCreateOrg(CallContext call, CreateOrgInput input,
                                                 std::string owner_user_id);

  // IdentityClient (the internal API). GetMembership reads the database; callers cache active
  // roles themselves through membership_cache.hpp (ADR 0019).
  [[nodiscard]] identity::v1::Call<identity::v1::Membership> GetMembership(
      identity::v1::GetMembershipRequest request, CallContext call) override;
  [[nodiscard]] identity::v1::Call<identity::v1::ApiKeyPrincipal> AuthenticateApiKey(
      identity::v1::AuthenticateApiKeyRequest request, CallContext call) override;
  [[nodiscard]] identity::v1::Call<identity::v1::User> ResolveSubject(
      identity::v1::ResolveSubjectRequest request, CallContext call) override;

  // The API key format: "trk_" + 43 base64url characters (256 random bits).
  static constexpr std::string_view kApiKeyPrefix = "trk_";

 private:
  [[nodiscard]] std::int64_t NowMs() const;
  [[nodiscard]] platform::ports::TransactionOptions Tx(const CallContext& call,
                                                       const std::string& org_id) const;
  void Committed() const;
  // Committed() for a commit that changed or ended an active membership (an event of
  // `event_type`): also invalidates the org's cached roles.
  [[nodiscard]] boost::asio::awaitable<void> MembershipsCommitted(
      const std::string& org_id, std::string event_type, platform::core::Clock::MonoTime deadline);

  platform::ports::SqlStore& store_;
  const platform::core::Clock& clock_;
  platform::core::IdGenerator& ids_;
  std::function<void()> on_commit_;
  platform::cache::CacheInvalidator* invalidator_;
};

}  // namespace trellis::identity::app
