#include "services/identity/store/identity_store.hpp"

#include <utility>

#include "platform/core/role.hpp"

namespace trellis::identity::store {

using platform::core::ErrorCode;
using platform::core::Fail;
using platform::core::Result;
using platform::ports::SqlParams;
using platform::ports::SqlResult;
using platform::ports::SqlRow;

namespace {

constexpr const char* kUserColumns = "u.id, u.email, u.name, u.created_at_ms, u.updated_at_ms";
constexpr const char* kOrgColumns =
    "o.id, o.slug, o.name, o.created_by, o.created_at_ms, o.updated_at_ms, o.version";
constexpr const char* kMemberColumns =
    "org_id, id, user_id, email, role, status, invited_by, created_at_ms, updated_at_ms, version";
constexpr const char* kKeyColumns =
    "org_id, id, name, role, prefix, created_by, created_at_ms, revoked_at_ms, version";

// Reads one column into `out`, remembering the first error.
template <typename T>
void Read(const SqlRow& row, const char* column, T& out,
          std::optional<platform::core::Error>& err) {
  if (err) return;
  auto v = row.Get<T>(column);
  if (!v) {
    err = v.error();
    return;
  }
  out = std::move(*v);
}

Result<domain::Role> ReadRole(const SqlRow& row, std::optional<platform::core::Error>& err) {
  std::string text;
  Read(row, "role", text, err);
  if (err) return std::unexpected(*err);
  auto role = platform::core::ParseRole(text);
  if (!role) return Fail(ErrorCode::kInternal, "unexpected database value", "role " + text);
  return *role;
}

Result<domain::User> ToUser(const SqlRow& row) {
  domain::User u;
  std::optional<platform::core::Error> err;
  Read(row, "id", u.id, err);
  Read(row, "email", u.email, err);
  Read(row, "name", u.name, err);
  Read(row, "created_at_ms", u.created_at_ms, err);
  Read(row, "updated_at_ms", u.updated_at_ms, err);
  if (err) return std::unexpected(*err);
  return u;
}

Result<domain::Org> ToOrg(const SqlRow& row) {
  domain::Org o;
  std::optional<platform::core::Error> err;
  Read(row, "id", o.id, err);
  Read(row, "slug", o.slug, err);
  Read(row, "name", o.name, err);
  Read(row, "created_by", o.created_by, err);
  Read(row, "created_at_ms", o.created_at_ms, err);
  Read(row, "updated_at_ms", o.updated_at_ms, err);
  Read(row, "version", o.version, err);
  if (err) return std::unexpected(*err);
  return o;
}

Result<domain::Member> ToMember(const SqlRow& row) {
  domain::Member m;
  std::optional<platform::core::Error> err;
  std::string status;
  Read(row, "org_id", m.org_id, err);
  Read(row, "id", m.id, err);
  Read(row, "email", m.email, err);
  Read(row, "status", status, err);
  Read(row, "invited_by", m.invited_by, err);
  Read(row, "created_at_ms", m.created_at_ms, err);
  Read(row, "updated_at_ms", m.updated_at_ms, err);
  Read(row, "version", m.version, err);
  if (err) return std::unexpected(*err);
  auto user = row.GetOptional<std::string>("user_id");
  if (!user) return std::unexpected(user.error());
  m.user_id = user->value_or("");
  auto role = ReadRole(row, err);
  if (!role) return std::unexpected(role.error());
  m.role = *role;
  m.status = status == "active" ? domain::MemberStatus::kActive : domain::MemberStatus::kPending;
  return m;
}

Result<domain::ApiKey> ToKey(const SqlRow& row) {
  domain::ApiKey k;
  std::optional<platform::core::Error> err;
  Read(row, "org_id", k.org_id, err);
  Read(row, "id", k.id, err);
  Read(row, "name", k.name, err);
  Read(row, "prefix", k.prefix, err);
  Read(row, "created_by", k.created_by, err);
  Read(row, "created_at_ms", k.created_at_ms, err);
  Read(row, "version", k.version, err);
  if (err) return std::unexpected(*err);
  auto revoked = row.GetOptional<std::int64_t>("revoked_at_ms");
  if (!revoked) return std::unexpected(revoked.error());
  k.revoked_at_ms = *revoked;
  auto role = ReadRole(row, err);
  if (!role) return std::unexpected(role.error());
  k.role = *role;
  return k;
}

template <typename T, typename Convert>
Result<std::optional<T>> FirstOf(const SqlResult& result, Convert convert) {
  if (result.rows.empty()) return std::optional<T>();
  auto v = convert(result.rows.front());
  if (!v) return std::unexpected(v.error());
  return std::optional<T>(std::move(*v));
}

template <typename T, typename Convert>
Result<std::vector<T>> AllOf(const SqlResult& result, Convert convert) {
  std::vector<T> out;
  out.reserve(result.rows.size());
  for (const auto& row : result.rows) {
    auto v = convert(row);
    if (!v) return std::unexpected(v.error());
    out.push_back(std::move(*v));
  }
  return out;
}

// Statements that return nothing of interest.
Awaitable<void> Run(SqlTransaction& tx, std::string sql, SqlParams params) {
  auto r = co_await tx.Execute(std::move(sql), std::move(params));
  co_return platform::ports::Void(r);
}

std::string RoleText(domain::Role role) { return std::string(platform::core::RoleName(role)); }

}  // namespace

Awaitable<void> InsertUser(SqlTransaction& tx, const domain::User& user) {
  SqlParams p{user.id, user.email, user.name, user.created_at_ms, user.updated_at_ms};
  co_return co_await Run(tx,
                         "INSERT INTO users (id, email, name, created_at_ms, updated_at_ms) "
                         "VALUES ($1, $2, $3, $4, $5)",
                         std::move(p));
}

Awaitable<void> InsertIdentity(SqlTransaction& tx, const std::string& issuer,
                               const std::string& subject, const std::string& user_id,
                               std::int64_t now_ms) {
  SqlParams p{issuer, subject, user_id, now_ms};
  co_return co_await Run(tx,
                         "INSERT INTO user_identities (issuer, subject, user_id, created_at_ms) "
                         "VALUES ($1, $2, $3, $4)",
                         std::move(p));
}

Awaitable<std::optional<domain::User>> FindUserBySubject(SqlTransaction& tx,
                                                         const std::string& issuer,
                                                         const std::string& subject) {
  SqlParams p{issuer, subject};
  auto r = co_await tx.Execute(std::string("SELECT ") + kUserColumns +
                                   " FROM user_identities i JOIN users u ON u.id = i.user_id "
                                   "WHERE i.issuer = $1 AND i.subject = $2",
                               std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::User>(*r, ToUser);
}

Awaitable<std::optional<domain::User>> GetUser(SqlTransaction& tx, const std::string& user_id) {
  SqlParams p{user_id};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kUserColumns + " FROM users u WHERE u.id = $1", std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::User>(*r, ToUser);
}

Awaitable<bool> HasPendingInvites(SqlTransaction& tx, const std::string& email) {
  SqlParams p{email};
  auto r = co_await tx.Execute(
      "SELECT 1 AS one FROM memberships WHERE email = $1 AND status = 'pending' LIMIT 1",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return !r->rows.empty();
}

Awaitable<bool> SlugTaken(SqlTransaction& tx, const std::string& slug,
                          const std::string& except_org_id) {
  SqlParams p{slug, except_org_id};
  auto r =
      co_await tx.Execute("SELECT 1 AS one FROM orgs WHERE slug = $1 AND id <> $2", std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return !r->rows.empty();
}

Awaitable<void> InsertOrg(SqlTransaction& tx, const domain::Org& org) {
  SqlParams p{org.id,     org.slug, org.name, org.created_by, org.created_at_ms, org.updated_at_ms,
              org.version};
  co_return co_await Run(tx,
                         "INSERT INTO orgs (id, slug, name, created_by, created_at_ms, "
                         "updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                         std::move(p));
}

Awaitable<std::optional<domain::Org>> GetOrg(SqlTransaction& tx, const std::string& org_id) {
  SqlParams p{org_id};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kOrgColumns + " FROM orgs o WHERE o.id = $1", std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::Org>(*r, ToOrg);
}

Awaitable<void> UpdateOrg(SqlTransaction& tx, const domain::Org& org) {
  SqlParams p{org.id, org.slug, org.name, org.updated_at_ms, org.version};
  co_return co_await Run(
      tx, "UPDATE orgs SET slug = $2, name = $3, updated_at_ms = $4, version = $5 WHERE id = $1",
      std::move(p));
}

Awaitable<std::vector<OrgWithRole>> ListOrgsOfUser(SqlTransaction& tx, const std::string& user_id,
                                                   const std::string& after_org_id, int limit) {
  SqlParams p{user_id, after_org_id, std::int64_t{limit}};
  auto r = co_await tx.Execute(std::string("SELECT ") + kOrgColumns +
                                   ", m.role FROM memberships m JOIN orgs o ON o.id = m.org_id "
                                   "WHERE m.user_id = $1 AND m.status = 'active' AND o.id > $2 "
                                   "ORDER BY o.id LIMIT $3",
                               std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return AllOf<OrgWithRole>(*r, [](const SqlRow& row) -> Result<OrgWithRole> {
    auto org = ToOrg(row);
    if (!org) return std::unexpected(org.error());
    std::optional<platform::core::Error> err;
    auto role = ReadRole(row, err);
    if (!role) return std::unexpected(role.error());
    return OrgWithRole{std::move(*org), *role};
  });
}

Awaitable<void> InsertMember(SqlTransaction& tx, const domain::Member& m) {
  platform::ports::SqlValue user =
      m.user_id.empty() ? platform::ports::SqlValue() : platform::ports::SqlValue(m.user_id);
  SqlParams p{m.org_id,         m.id,
              std::move(user),  m.email,
              RoleText(m.role), std::string(domain::StatusName(m.status)),
              m.invited_by,     m.created_at_ms,
              m.updated_at_ms,  m.version};
  co_return co_await Run(tx,
                         std::string("INSERT INTO memberships (") + kMemberColumns +
                             ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                         std::move(p));
}

Awaitable<std::optional<domain::Member>> GetMember(SqlTransaction& tx, const std::string& org_id,
                                                   const std::string& member_id) {
  SqlParams p{org_id, member_id};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kMemberColumns + " FROM memberships WHERE org_id = $1 AND id = $2",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::Member>(*r, ToMember);
}

Awaitable<std::optional<domain::Member>> GetActiveMembership(SqlTransaction& tx,
                                                             const std::string& org_id,
                                                             const std::string& user_id) {
  SqlParams p{org_id, user_id};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kMemberColumns +
          " FROM memberships WHERE org_id = $1 AND user_id = $2 AND status = 'active'",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::Member>(*r, ToMember);
}

Awaitable<bool> EmailInOrg(SqlTransaction& tx, const std::string& org_id,
                           const std::string& email) {
  SqlParams p{org_id, email};
  auto r = co_await tx.Execute("SELECT 1 AS one FROM memberships WHERE org_id = $1 AND email = $2",
                               std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return !r->rows.empty();
}

Awaitable<std::vector<domain::Member>> ListMembers(SqlTransaction& tx, const std::string& org_id,
                                                   const std::string& after_id, int limit) {
  SqlParams p{org_id, after_id, std::int64_t{limit}};
  auto r = co_await tx.Execute(std::string("SELECT ") + kMemberColumns +
                                   " FROM memberships WHERE org_id = $1 AND id > $2 "
                                   "ORDER BY id LIMIT $3",
                               std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return AllOf<domain::Member>(*r, ToMember);
}

Awaitable<void> UpdateMember(SqlTransaction& tx, const domain::Member& m) {
  SqlParams p{m.org_id, m.id, RoleText(m.role), m.updated_at_ms, m.version};
  co_return co_await Run(tx,
                         "UPDATE memberships SET role = $3, updated_at_ms = $4, version = $5 "
                         "WHERE org_id = $1 AND id = $2",
                         std::move(p));
}

Awaitable<void> DeleteMember(SqlTransaction& tx, const std::string& org_id,
                             const std::string& member_id) {
  SqlParams p{org_id, member_id};
  co_return co_await Run(tx, "DELETE FROM memberships WHERE org_id = $1 AND id = $2", std::move(p));
}

Awaitable<std::int64_t> CountActiveOwners(SqlTransaction& tx, const std::string& org_id) {
  SqlParams p{org_id};
  auto r = co_await tx.Execute(
      "SELECT COUNT(*) AS n FROM memberships "
      "WHERE org_id = $1 AND role = 'owner' AND status = 'active'",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  if (r->rows.empty()) co_return 0;
  co_return r->rows.front().Get<std::int64_t>("n");
}

Awaitable<void> InsertApiKey(SqlTransaction& tx, const domain::ApiKey& k,
                             const std::string& secret_sha256) {
  SqlParams p{k.org_id,      k.id,         k.name,          RoleText(k.role), k.prefix,
              secret_sha256, k.created_by, k.created_at_ms, k.version};
  co_return co_await Run(tx,
                         "INSERT INTO api_keys (org_id, id, name, role, prefix, secret_sha256, "
                         "created_by, created_at_ms, version) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                         std::move(p));
}

Awaitable<std::optional<domain::ApiKey>> GetApiKey(SqlTransaction& tx, const std::string& org_id,
                                                   const std::string& key_id) {
  SqlParams p{org_id, key_id};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE org_id = $1 AND id = $2",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::ApiKey>(*r, ToKey);
}

Awaitable<std::vector<domain::ApiKey>> ListApiKeys(SqlTransaction& tx, const std::string& org_id,
                                                   const std::string& after_id, int limit) {
  SqlParams p{org_id, after_id, std::int64_t{limit}};
  auto r = co_await tx.Execute(std::string("SELECT ") + kKeyColumns +
                                   " FROM api_keys WHERE org_id = $1 AND id > $2 "
                                   "ORDER BY id LIMIT $3",
                               std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return AllOf<domain::ApiKey>(*r, ToKey);
}

Awaitable<void> RevokeApiKey(SqlTransaction& tx, const domain::ApiKey& k) {
  SqlParams p{k.org_id, k.id, k.revoked_at_ms.value_or(0), k.version};
  co_return co_await Run(
      tx, "UPDATE api_keys SET revoked_at_ms = $3, version = $4 WHERE org_id = $1 AND id = $2",
      std::move(p));
}

Awaitable<std::optional<domain::ApiKey>> FindApiKeyBySecret(SqlTransaction& tx,
                                                            const std::string& secret_sha256) {
  SqlParams p{secret_sha256};
  auto r = co_await tx.Execute(
      std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE secret_sha256 = $1",
      std::move(p));
  if (!r) co_return std::unexpected(r.error());
  co_return FirstOf<domain::ApiKey>(*r, ToKey);
}

}  // namespace trellis::identity::store
