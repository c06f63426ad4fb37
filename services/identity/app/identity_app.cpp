#include "services/identity/app/identity_app.hpp"

#include <sodium.h>

#include <array>
#include <chrono>
#include <utility>

#include "platform/events/outbox.hpp"
#include "platform/store/migrations.hpp"
#include "services/identity/app/membership_activation.hpp"
#include "services/identity/app/views.hpp"

namespace trellis::identity::app {

using domain::Action;
using domain::Role;
using platform::core::Error;
using platform::core::ErrorCode;
using platform::core::Fail;
using platform::core::FieldError;
using platform::core::Result;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;

namespace {

constexpr std::size_t kApiKeyRandomBytes = 32;
constexpr std::size_t kApiKeyShownPrefix =
    12;  // "trk_" and 8 characters: enough to tell keys apart
constexpr std::size_t kMaxName = 100;

std::unexpected<Error> OrgNotFound() { return Fail(ErrorCode::kNotFound, "org not found"); }

std::unexpected<Error> Forbidden(Action action) {
  return Fail(ErrorCode::kPermissionDenied,
              "your role does not allow this; it needs " +
                  std::string(platform::core::RoleName(domain::Required(action))) + " or above");
}

std::unexpected<Error> Invalid(std::vector<FieldError> fields) {
  Error e(ErrorCode::kValidation, "the request has invalid fields");
  e.fields = std::move(fields);
  return std::unexpected(std::move(e));
}

std::unexpected<Error> Changed() {
  return Fail(ErrorCode::kFailedPrecondition, "the resource has changed; fetch it and retry");
}

// Org names and key names: 1..100 code points, no control characters. (The HTTP layer checks
// lengths too; the rule lives here so admin commands obey it.)
std::string_view CheckName(std::string_view name) {
  if (name.empty()) return "must not be empty";
  std::size_t points = 0;
  for (unsigned char c : name) {
    if ((c & 0xC0) != 0x80) ++points;
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  return points > kMaxName ? "must be at most 100 characters" : "";
}

std::string NewApiKeySecret() {
  std::array<unsigned char, kApiKeyRandomBytes> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::array<char, sodium_base64_ENCODED_LEN(kApiKeyRandomBytes,
                                             sodium_base64_VARIANT_URLSAFE_NO_PADDING)>
      text{};
  sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return std::string(IdentityApp::kApiKeyPrefix) + text.data();
}

platform::events::DomainEvent Event(platform::core::IdGenerator& ids, std::string type,
                                    const std::string& org_id, const std::string& actor,
                                    const std::string& subject, std::string payload,
                                    std::int64_t now_ms, Role audience = Role::kViewer) {
  platform::events::DomainEvent e;
  e.id = ids.Next();
  e.type = std::move(type);
  e.org_id = org_id;
  e.actor_id = actor;
  e.subject_id = subject;
  e.payload = std::move(payload);
  e.occurred_at_ms = now_ms;
  e.audience = audience;
  return e;
}

// The caller's role in the org: an API key's own org and role, or the user's active
// membership. Anything else is kNotFound.
platform::ports::Awaitable<Role> RoleIn(SqlTransaction& tx, const Principal& who,
                                        const std::string& org_id) {
  if (who.IsApiKey()) {
    if (who.api_key_org_id != org_id) co_return OrgNotFound();
    co_return who.api_key_role;
  }
  auto member = co_await store::GetActiveMembership(tx, org_id, who.user_id);
  if (!member) co_return std::unexpected(member.error());
  if (!*member) co_return OrgNotFound();
  co_return (*member)->role;
}

}  // namespace

IdentityApp::IdentityApp(platform::ports::SqlStore& store, const platform::core::Clock& clock,
                         platform::core::IdGenerator& ids, std::function<void()> on_commit,
                         platform::cache::CacheInvalidator* invalidator)
    : store_(store),
      clock_(clock),
      ids_(ids),
      on_commit_(std::move(on_commit)),
      invalidator_(invalidator) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot initialise");
}

std::int64_t IdentityApp::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

TransactionOptions IdentityApp::Tx(const CallContext& call, const std::string& org_id) const {
  TransactionOptions options;
  // Writes check rules before they write (an org keeps an owner; versions for If-Match).
  options.Org(org_id).Deadline(call.deadline).Serializable().Consistency(call.written);
  return options;
}

void IdentityApp::Committed() const {
  if (on_commit_) on_commit_();
}

boost::asio::awaitable<void> IdentityApp::MembershipsCommitted(
    const std::string& org_id, std::string event_type, platform::core::Clock::MonoTime deadline) {
  Committed();
  // Before the use case returns: a removed member's very next request is refused. The
  // event-log consumer "cache" invalidates again should this fail.
  if (invalidator_) {
    std::string org = org_id;
    co_await invalidator_->Committed(std::move(event_type), std::move(org), deadline);
  }
}

Call<Me> IdentityApp::GetMe(const Principal& who, CallContext call) {
  Me me;
  TransactionOptions options = Tx(call, who.api_key_org_id);
  options.ReadOnly();
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto user = co_await store::GetUser(tx, who.user_id);
        if (!user) co_return std::unexpected(user.error());
        me.user = std::move(*user);
        if (who.IsApiKey()) {
          auto key = co_await store::GetApiKey(tx, who.api_key_org_id, who.api_key_id);
          if (!key) co_return std::unexpected(key.error());
          me.api_key = std::move(*key);
        }
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (!me.user && !me.api_key) co_return Fail(ErrorCode::kUnauthenticated, "unknown caller");
  co_return me;
}

Call<store::OrgWithRole> IdentityApp::CreateOrg(const Principal& who, CallContext call,
                                                CreateOrgInput input) {
  if (who.IsApiKey()) {
    co_return Fail(ErrorCode::kPermissionDenied,
                   "API keys belong to one org and cannot create orgs");
  }
  std::vector<FieldError> invalid;
  if (auto why = CheckName(input.name); !why.empty())
    invalid.push_back({"/name", std::string(why)});
  if (auto why = domain::CheckSlug(input.slug); !why.empty()) {
    invalid.push_back({"/slug", std::string(why)});
  }
  if (!invalid.empty()) co_return Invalid(std::move(invalid));

  const std::int64_t now = NowMs();
  domain::Org org;
  org.id = ids_.Next();
  org.slug = input.slug;
  org.name = input.name;
  org.created_by = who.user_id;
  org.created_at_ms = org.updated_at_ms = now;
  auto done = co_await store_.Transact(
      Tx(call, org.id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto taken = co_await store::SlugTaken(tx, org.slug, org.id);
        if (!taken) co_return std::unexpected(taken.error());
        if (*taken) co_return Fail(ErrorCode::kAlreadyExists, "the slug is taken");
        auto user = co_await store::GetUser(tx, who.user_id);
        if (!user) co_return std::unexpected(user.error());
        if (!*user) co_return Fail(ErrorCode::kUnauthenticated, "unknown user");
        if (auto r = co_await store::InsertOrg(tx, org); !r) co_return r;
        domain::Member owner;
        owner.org_id = org.id;
        owner.id = ids_.Next();
        owner.user_id = who.user_id;
        owner.email = (*user)->email;
        owner.role = Role::kOwner;
        owner.status = domain::MemberStatus::kActive;
        owner.invited_by = who.user_id;
        owner.created_at_ms = owner.updated_at_ms = now;
        if (auto r = co_await store::InsertMember(tx, owner); !r) co_return r;
        auto event = Event(ids_, "identity.org.created", org.id, who.ActorId(), org.id,
                           OrgJson(org, std::nullopt), now);
        co_return co_await platform::events::AppendToOutbox(tx, event);
      });
  if (!done) co_return std::unexpected(done.error());
  Committed();  // a new membership: nothing cached to drop (only active roles are cached)
  co_return store::OrgWithRole{std::move(org), Role::kOwner};
}

Call<Page<store::OrgWithRole>> IdentityApp::ListMyOrgs(const Principal& who, CallContext call,
                                                       std::string after, int limit) {
  Page<store::OrgWithRole> page;
  TransactionOptions options;
  options.ReadOnly().Deadline(call.deadline).Consistency(call.written);
  // Across orgs: on PostgreSQL RLS shows this user's own memberships (docs/adr/0013).
  if (!who.IsApiKey()) options.Setting("trellis.user_id", who.user_id);
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        if (who.IsApiKey()) {
          if (after >= who.api_key_org_id) co_return Result<void>();
          auto org = co_await store::GetOrg(tx, who.api_key_org_id);
          if (!org) co_return std::unexpected(org.error());
          if (*org) page.items.push_back({std::move(**org), who.api_key_role});
          co_return Result<void>();
        }
        auto rows = co_await store::ListOrgsOfUser(tx, who.user_id, after, limit + 1);
        if (!rows) co_return std::unexpected(rows.error());
        page.items = std::move(*rows);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (page.items.size() > static_cast<std::size_t>(limit)) {
    page.items.resize(static_cast<std::size_t>(limit));
    page.next_after = page.items.back().org.id;
  }
  co_return page;
}

Call<store::OrgWithRole> IdentityApp::GetOrg(const Principal& who, CallContext call,
                                             std::string org_id) {
  std::optional<store::OrgWithRole> out;
  TransactionOptions options = Tx(call, org_id);
  options.ReadOnly();
  auto done = co_await store_.Transact(std::move(options),
                                       [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
                                         auto role = co_await RoleIn(tx, who, org_id);
                                         if (!role) co_return std::unexpected(role.error());
                                         auto org = co_await store::GetOrg(tx, org_id);
                                         if (!org) co_return std::unexpected(org.error());
                                         if (!*org) co_return OrgNotFound();
                                         out = store::OrgWithRole{std::move(**org), *role};
                                         co_return Result<void>();
                                       });
  if (!done) co_return std::unexpected(done.error());
  co_return std::move(*out);
}

Call<domain::Org> IdentityApp::UpdateOrg(const Principal& who, CallContext call, std::string org_id,
                                         UpdateOrgInput input, VersionCheck if_match) {
  std::vector<FieldError> invalid;
  if (input.name) {
    if (auto why = CheckName(*input.name); !why.empty()) {
      invalid.push_back({"/name", std::string(why)});
    }
  }
  if (input.slug) {
    if (auto why = domain::CheckSlug(*input.slug); !why.empty()) {
      invalid.push_back({"/slug", std::string(why)});
    }
  }
  if (!invalid.empty()) co_return Invalid(std::move(invalid));
  std::optional<domain::Org> out;
  const std::int64_t now = NowMs();
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        auto org = co_await store::GetOrg(tx, org_id);
        if (!org) co_return std::unexpected(org.error());
        if (!*org) co_return OrgNotFound();
        if (!domain::Allowed(*role, Action::kUpdateOrg)) co_return Forbidden(Action::kUpdateOrg);
        if (!if_match((*org)->version)) co_return Changed();
        domain::Org next = **org;
        if (input.slug && *input.slug != next.slug) {
          auto taken = co_await store::SlugTaken(tx, *input.slug, org_id);
          if (!taken) co_return std::unexpected(taken.error());
          if (*taken) co_return Fail(ErrorCode::kAlreadyExists, "the slug is taken");
          next.slug = *input.slug;
        }
        if (input.name) next.name = *input.name;
        if (next.name == (*org)->name && next.slug == (*org)->slug) {
          out = std::move(next);  // nothing changes: no new version, no event
          co_return Result<void>();
        }
        next.updated_at_ms = now;
        next.version += 1;
        if (auto r = co_await store::UpdateOrg(tx, next); !r) co_return r;
        auto event = Event(ids_, "identity.org.updated", org_id, who.ActorId(), org_id,
                           OrgJson(next, std::nullopt), now);
        if (auto r = co_await platform::events::AppendToOutbox(tx, event); !r) co_return r;
        out = std::move(next);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  Committed();
  co_return std::move(*out);
}

Call<Page<domain::Member>> IdentityApp::ListMembers(const Principal& who, CallContext call,
                                                    std::string org_id, std::string after,
                                                    int limit) {
  Page<domain::Member> page;
  TransactionOptions options = Tx(call, org_id);
  options.ReadOnly();
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        if (!domain::Allowed(*role, Action::kListMembers)) {
          co_return Forbidden(Action::kListMembers);
        }
        auto rows = co_await store::ListMembers(tx, org_id, after, limit + 1);
        if (!rows) co_return std::unexpected(rows.error());
        page.items = std::move(*rows);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (page.items.size() > static_cast<std::size_t>(limit)) {
    page.items.resize(static_cast<std::size_t>(limit));
    page.next_after = page.items.back().id;
  }
  co_return page;
}

Call<domain::Member> IdentityApp::InviteMember(const Principal& who, CallContext call,
                                               std::string org_id, InviteInput input) {
  const std::string email = domain::CanonicalEmail(input.email);
  if (auto why = domain::CheckEmail(email); !why.empty()) {
    co_return Invalid({{"/email", std::string(why)}});
  }
  const std::int64_t now = NowMs();
  domain::Member member;
  member.org_id = org_id;
  member.id = ids_.Next();
  member.email = email;
  member.role = input.role;
  member.status = domain::MemberStatus::kPending;
  member.invited_by = who.ActorId();
  member.created_at_ms = member.updated_at_ms = now;
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        if (!domain::Allowed(*role, Action::kInviteMember)) {
          co_return Forbidden(Action::kInviteMember);
        }
        if (!domain::MayGrant(*role, input.role)) {
          co_return Fail(ErrorCode::kPermissionDenied, "only an owner grants the owner role");
        }
        auto exists = co_await store::EmailInOrg(tx, org_id, email);
        if (!exists) co_return std::unexpected(exists.error());
        if (*exists) {
          co_return Fail(ErrorCode::kAlreadyExists, "this email is already a member or invited");
        }
        if (auto r = co_await store::InsertMember(tx, member); !r) co_return r;
        auto event = Event(ids_, "identity.member.invited", org_id, who.ActorId(), member.id,
                           MemberJson(member), now);
        co_return co_await platform::events::AppendToOutbox(tx, event);
      });
  if (!done) co_return std::unexpected(done.error());
  Committed();  // a pending membership is not a role yet
  co_return member;
}

Call<domain::Member> IdentityApp::ChangeMemberRole(const Principal& who, CallContext call,
                                                   std::string org_id, std::string member_id,
                                                   Role new_role, VersionCheck if_match) {
  std::optional<domain::Member> out;
  const std::int64_t now = NowMs();
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        auto member = co_await store::GetMember(tx, org_id, member_id);
        if (!member) co_return std::unexpected(member.error());
        if (!*member) co_return Fail(ErrorCode::kNotFound, "member not found");
        if (!domain::Allowed(*role, Action::kChangeMemberRole)) {
          co_return Forbidden(Action::kChangeMemberRole);
        }
        if (!if_match((*member)->version)) co_return Changed();
        auto owners = co_await store::CountActiveOwners(tx, org_id);
        if (!owners) co_return std::unexpected(owners.error());
        if (auto ok = domain::CheckRoleChange(*role, **member, new_role, *owners); !ok) {
          co_return ok;
        }
        domain::Member next = std::move(**member);
        if (next.role == new_role) {
          out = std::move(next);
          co_return Result<void>();
        }
        next.role = new_role;
        next.updated_at_ms = now;
        next.version += 1;
        if (auto r = co_await store::UpdateMember(tx, next); !r) co_return r;
        auto event = Event(ids_, "identity.member.role_changed", org_id, who.ActorId(), next.id,
                           MemberJson(next), now);
        if (auto r = co_await platform::events::AppendToOutbox(tx, event); !r) co_return r;
        out = std::move(next);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_await MembershipsCommitted(org_id, "identity.member.role_changed", call.deadline);
  co_return std::move(*out);
}

Call<void> IdentityApp::RemoveMember(const Principal& who, CallContext call, std::string org_id,
                                     std::string member_id, VersionCheck if_match) {
  const std::int64_t now = NowMs();
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        auto member = co_await store::GetMember(tx, org_id, member_id);
        if (!member) co_return std::unexpected(member.error());
        if (!*member) co_return Fail(ErrorCode::kNotFound, "member not found");
        const bool self = !who.IsApiKey() && (*member)->user_id == who.user_id;
        if (!self && !domain::Allowed(*role, Action::kRemoveMember)) {
          co_return Forbidden(Action::kRemoveMember);
        }
        if (!if_match((*member)->version)) co_return Changed();
        auto owners = co_await store::CountActiveOwners(tx, org_id);
        if (!owners) co_return std::unexpected(owners.error());
        if (auto ok = domain::CheckRemoval(*role, self, **member, *owners); !ok) co_return ok;
        if (auto r = co_await store::DeleteMember(tx, org_id, member_id); !r) co_return r;
        auto event = Event(ids_, "identity.member.removed", org_id, who.ActorId(), member_id,
                           MemberJson(**member), now);
        co_return co_await platform::events::AppendToOutbox(tx, event);
      });
  if (!done) co_return std::unexpected(done.error());
  co_await MembershipsCommitted(org_id, "identity.member.removed", call.deadline);
  co_return Result<void>();
}

Call<Page<domain::ApiKey>> IdentityApp::ListApiKeys(const Principal& who, CallContext call,
                                                    std::string org_id, std::string after,
                                                    int limit) {
  Page<domain::ApiKey> page;
  TransactionOptions options = Tx(call, org_id);
  options.ReadOnly();
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        if (!domain::Allowed(*role, Action::kListApiKeys)) {
          co_return Forbidden(Action::kListApiKeys);
        }
        auto rows = co_await store::ListApiKeys(tx, org_id, after, limit + 1);
        if (!rows) co_return std::unexpected(rows.error());
        page.items = std::move(*rows);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (page.items.size() > static_cast<std::size_t>(limit)) {
    page.items.resize(static_cast<std::size_t>(limit));
    page.next_after = page.items.back().id;
  }
  co_return page;
}

Call<CreatedApiKey> IdentityApp::CreateApiKey(const Principal& who, CallContext call,
                                              std::string org_id, CreateApiKeyInput input) {
  if (auto why = CheckName(input.name); !why.empty()) {
    co_return Invalid({{"/name", std::string(why)}});
  }
  const std::int64_t now = NowMs();
  CreatedApiKey created;
  created.secret = NewApiKeySecret();
  domain::ApiKey& key = created.key;
  key.org_id = org_id;
  key.id = ids_.Next();
  key.name = input.name;
  key.role = input.role;
  key.prefix = created.secret.substr(0, kApiKeyShownPrefix);
  key.created_by = who.user_id;
  key.created_at_ms = now;
  const std::string hash = platform::store::Sha256Hex(created.secret);
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        if (!domain::Allowed(*role, Action::kCreateApiKey)) {
          co_return Forbidden(Action::kCreateApiKey);
        }
        if (!domain::MayGrant(*role, input.role)) {
          co_return Fail(ErrorCode::kPermissionDenied, "only an owner creates owner keys");
        }
        if (auto r = co_await store::InsertApiKey(tx, key, hash); !r) co_return r;
        auto event = Event(ids_, "identity.api_key.created", org_id, who.ActorId(), key.id,
                           ApiKeyJson(key), now, Role::kAdmin);
        co_return co_await platform::events::AppendToOutbox(tx, event);
      });
  if (!done) co_return std::unexpected(done.error());
  Committed();
  co_return created;
}

Call<domain::ApiKey> IdentityApp::RevokeApiKey(const Principal& who, CallContext call,
                                               std::string org_id, std::string key_id,
                                               VersionCheck if_match) {
  std::optional<domain::ApiKey> out;
  const std::int64_t now = NowMs();
  bool changed = false;
  auto done = co_await store_.Transact(
      Tx(call, org_id), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto role = co_await RoleIn(tx, who, org_id);
        if (!role) co_return std::unexpected(role.error());
        auto key = co_await store::GetApiKey(tx, org_id, key_id);
        if (!key) co_return std::unexpected(key.error());
        if (!*key) co_return Fail(ErrorCode::kNotFound, "API key not found");
        if (!domain::Allowed(*role, Action::kRevokeApiKey)) {
          co_return Forbidden(Action::kRevokeApiKey);
        }
        if (!if_match((*key)->version)) co_return Changed();
        domain::ApiKey next = std::move(**key);
        if (!next.revoked_at_ms) {
          next.revoked_at_ms = now;
          next.version += 1;
          if (auto r = co_await store::RevokeApiKey(tx, next); !r) co_return r;
          auto event = Event(ids_, "identity.api_key.revoked", org_id, who.ActorId(), next.id,
                             ApiKeyJson(next), now, Role::kAdmin);
          if (auto r = co_await platform::events::AppendToOutbox(tx, event); !r) co_return r;
          changed = true;
        }
        out = std::move(next);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  if (changed) Committed();
  co_return std::move(*out);
}

Call<domain::Org> IdentityApp::AdminCreateOrg(CallContext call, CreateOrgInput input,
                                              std::string owner_user_id) {
  Principal owner;
  owner.user_id = std::move(owner_user_id);
  auto created = co_await CreateOrg(owner, call, std::move(input));
  if (!created) co_return std::unexpected(created.error());
  co_return std::move(created->org);
}

identity::v1::Call<identity::v1::Membership> IdentityApp::GetMembership(
    identity::v1::GetMembershipRequest request, CallContext call) {
  identity::v1::Membership out;
  TransactionOptions options = Tx(call, request.org_id());
  options.ReadOnly();
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto member = co_await store::GetActiveMembership(tx, request.org_id(), request.user_id());
        if (!member) co_return std::unexpected(member.error());
        if (!*member) co_return Fail(ErrorCode::kNotFound, "not a member");
        out.set_org_id((*member)->org_id);
        out.set_user_id((*member)->user_id);
        out.set_role(identity::v1::FromCoreRole((*member)->role));
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

identity::v1::Call<identity::v1::ApiKeyPrincipal> IdentityApp::AuthenticateApiKey(
    identity::v1::AuthenticateApiKeyRequest request, CallContext call) {
  const std::string& secret = request.secret();
  // The exact shape NewApiKeySecret makes; anything else is refused without a lookup.
  const std::size_t expected =
      kApiKeyPrefix.size() +
      sodium_base64_ENCODED_LEN(kApiKeyRandomBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
  if (secret.size() != expected || !secret.starts_with(kApiKeyPrefix)) {
    co_return Fail(ErrorCode::kUnauthenticated, "invalid API key", "malformed key");
  }
  identity::v1::ApiKeyPrincipal out;
  const std::string hash = platform::store::Sha256Hex(secret);
  TransactionOptions options;
  options.ReadOnly().Deadline(call.deadline);
  // The key's org is not known yet: on PostgreSQL RLS shows the one key with this hash.
  options.Setting("trellis.api_key_sha256", hash);
  auto done = co_await store_.Transact(
      std::move(options), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto key = co_await store::FindApiKeyBySecret(tx, hash);
        if (!key) co_return std::unexpected(key.error());
        if (!*key || (*key)->revoked_at_ms) {
          co_return Fail(ErrorCode::kUnauthenticated, "invalid API key",
                         *key ? "revoked key" : "unknown key");
        }
        out.set_key_id((*key)->id);
        out.set_org_id((*key)->org_id);
        out.set_role(identity::v1::FromCoreRole((*key)->role));
        out.set_created_by((*key)->created_by);
        co_return Result<void>();
      });
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

identity::v1::Call<identity::v1::User> IdentityApp::ResolveSubject(
    identity::v1::ResolveSubjectRequest request, CallContext call) {
  const std::string email = domain::CanonicalEmail(request.email());
  // Most calls find the user and nothing to activate: one read-only transaction.
  std::optional<domain::User> found;
  bool pending = false;
  TransactionOptions read;
  read.ReadOnly().Deadline(call.deadline);
  // On PostgreSQL RLS shows only the pending invitations to the address the issuer vouches
  // for (docs/adr/0013); without a verified address, none.
  const bool verified = !email.empty() && request.email_verified();
  if (verified) read.Setting("trellis.email", email);
  auto looked = co_await store_.Transact(
      std::move(read), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
        auto user = co_await store::FindUserBySubject(tx, request.issuer(), request.subject());
        if (!user) co_return std::unexpected(user.error());
        found = std::move(*user);
        // The address the issuer vouches for now, not the one stored at first sight: an
        // address a user has since left must not take up invitations to it.
        if (verified) {
          auto has = co_await store::HasPendingInvites(tx, email);
          if (!has) co_return std::unexpected(has.error());
          pending = *has;
        }
        co_return Result<void>();
      });
  if (!looked) co_return std::unexpected(looked.error());

  if (!found || pending) {
    const std::int64_t now = NowMs();
    bool activated = false;
    // The id is chosen before the transaction so that RLS can admit the user's own
    // memberships and the events about them (a concurrent first sign-in of the same subject
    // may make this transaction fail; it never activates under the wrong id).
    const std::string new_user_id = found ? std::string() : ids_.Next();
    TransactionOptions write;
    write.Deadline(call.deadline);
    write.Setting("trellis.user_id", found ? found->id : new_user_id);
    if (verified) write.Setting("trellis.email", email);
    auto wrote = co_await store_.Transact(
        std::move(write), [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          auto user = co_await store::FindUserBySubject(tx, request.issuer(), request.subject());
          if (!user) co_return std::unexpected(user.error());
          if (*user) {
            found = std::move(*user);
          } else {
            domain::User u;
            u.id = new_user_id.empty() ? ids_.Next() : new_user_id;
            u.email = email;
            u.name = !request.name().empty() ? request.name()
                     : !email.empty()        ? email
                                             : request.subject();
            u.created_at_ms = u.updated_at_ms = now;
            if (auto r = co_await store::InsertUser(tx, u); !r) co_return r;
            if (auto r = co_await store::InsertIdentity(tx, request.issuer(), request.subject(),
                                                        u.id, now);
                !r) {
              co_return r;
            }
            found = std::move(u);
          }
          // Invitations go to an address: only the verified one of this token may take them up.
          if (!verified) co_return Result<void>();
          auto joined = co_await ActivatePendingMemberships(tx, found->id, email, now, ids_);
          if (!joined) co_return std::unexpected(joined.error());
          activated = *joined > 0;
          co_return Result<void>();
        });
    if (!wrote) co_return std::unexpected(wrote.error());
    if (activated) Committed();  // new memberships: nothing cached to drop
  }
  identity::v1::User out;
  out.set_id(found->id);
  out.set_email(found->email);
  out.set_name(found->name);
  co_return out;
}

}  // namespace trellis::identity::app
