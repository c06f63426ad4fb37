// The identity context's SQL: users and their issuer identities, orgs, memberships, API keys.
// Every function runs inside a caller's transaction; every query on a tenant table is scoped by
// org id. Only this folder writes identity's SQL.
//
//   auto org = co_await GetOrg(tx, org_id);            // Result<std::optional<Org>>
//   auto page = co_await ListMembers(tx, org_id, after, limit + 1);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/ports/sql_store.hpp"
#include "services/identity/domain/identity.hpp"

namespace trellis::identity::store {

using platform::ports::Awaitable;
using platform::ports::SqlTransaction;

// Users and identities.
[[nodiscard]] Awaitable<void> InsertUser(SqlTransaction& tx, const domain::User& user);
[[nodiscard]] Awaitable<void> InsertIdentity(SqlTransaction& tx, const std::string& issuer,
                                             const std::string& subject, const std::string& user_id,
                                             std::int64_t now_ms);
[[nodiscard]] Awaitable<std::optional<domain::User>> FindUserBySubject(SqlTransaction& tx,
                                                                       const std::string& issuer,
                                                                       const std::string& subject);
[[nodiscard]] Awaitable<std::optional<domain::User>> GetUser(SqlTransaction& tx,
                                                             const std::string& user_id);
// Pending invitations for this email exist (cheap check before activating).
[[nodiscard]] Awaitable<bool> HasPendingInvites(SqlTransaction& tx, const std::string& email);

// Orgs.
[[nodiscard]] Awaitable<bool> SlugTaken(SqlTransaction& tx, const std::string& slug,
                                        const std::string& except_org_id);
[[nodiscard]] Awaitable<void> InsertOrg(SqlTransaction& tx, const domain::Org& org);
[[nodiscard]] Awaitable<std::optional<domain::Org>> GetOrg(SqlTransaction& tx,
                                                           const std::string& org_id);
// Bumps the version; the caller has checked the expected one.
[[nodiscard]] Awaitable<void> UpdateOrg(SqlTransaction& tx, const domain::Org& org);
struct OrgWithRole {
  domain::Org org;
  domain::Role role;
};
// The user's orgs (active memberships), by org id, after `after_org_id`, at most `limit`.
[[nodiscard]] Awaitable<std::vector<OrgWithRole>> ListOrgsOfUser(SqlTransaction& tx,
                                                                 const std::string& user_id,
                                                                 const std::string& after_org_id,
                                                                 int limit);

// Memberships.
[[nodiscard]] Awaitable<void> InsertMember(SqlTransaction& tx, const domain::Member& member);
[[nodiscard]] Awaitable<std::optional<domain::Member>> GetMember(SqlTransaction& tx,
                                                                 const std::string& org_id,
                                                                 const std::string& member_id);
[[nodiscard]] Awaitable<std::optional<domain::Member>> GetActiveMembership(
    SqlTransaction& tx, const std::string& org_id, const std::string& user_id);
[[nodiscard]] Awaitable<bool> EmailInOrg(SqlTransaction& tx, const std::string& org_id,
                                         const std::string& email);
[[nodiscard]] Awaitable<std::vector<domain::Member>> ListMembers(SqlTransaction& tx,
                                                                 const std::string& org_id,
                                                                 const std::string& after_id,
                                                                 int limit);
[[nodiscard]] Awaitable<void> UpdateMember(SqlTransaction& tx, const domain::Member& member);
[[nodiscard]] Awaitable<void> DeleteMember(SqlTransaction& tx, const std::string& org_id,
                                           const std::string& member_id);
[[nodiscard]] Awaitable<std::int64_t> CountActiveOwners(SqlTransaction& tx,
                                                        const std::string& org_id);

// API keys.
[[nodiscard]] Awaitable<void> InsertApiKey(SqlTransaction& tx, const domain::ApiKey& key,
                                           const std::string& secret_sha256);
[[nodiscard]] Awaitable<std::optional<domain::ApiKey>> GetApiKey(SqlTransaction& tx,
                                                                 const std::string& org_id,
                                                                 const std::string& key_id);
[[nodiscard]] Awaitable<std::vector<domain::ApiKey>> ListApiKeys(SqlTransaction& tx,
                                                                 const std::string& org_id,
                                                                 const std::string& after_id,
                                                                 int limit);
[[nodiscard]] Awaitable<void> RevokeApiKey(SqlTransaction& tx, const domain::ApiKey& key);
// Not tenant-scoped by design: authentication finds the key (and so its org) by its hash.
[[nodiscard]] Awaitable<std::optional<domain::ApiKey>> FindApiKeyBySecret(
    SqlTransaction& tx, const std::string& secret_sha256);

}  // namespace trellis::identity::store
