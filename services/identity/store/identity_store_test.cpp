// The identity repository on both engines (tests/support/sql_engines.hpp): a migrated SQLite
// file, and PostgreSQL as trellis_identity under row-level security. Every query is scoped by
// org, and invitations become memberships once. On PostgreSQL each transaction carries what
// the use case's transaction carries (identity_app.cpp): the org, or for the cross-org paths
// the user id, the verified email or the API key's hash.
#include "services/identity/store/identity_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/ports/run_sync.hpp"
#include "services/identity/app/membership_activation.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::identity::store {
namespace {

namespace core = platform::core;
using domain::Member;
using domain::MemberStatus;
using domain::Role;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;

using ::trellis::platform::ports::RunSync;

class IdentityStoreTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  IdentityStoreTest()
      : db_(EngineStore::Open(GetParam(), SqlContext::kIdentity)),
        store_(&db_->Store()),
        ids_(clock_) {}

  // Runs body in a write transaction and expects it to succeed. Without options: no org (users,
  // orgs and identities are not tenant tables).
  void Write(std::function<platform::ports::Awaitable<void>(SqlTransaction&)> body) {
    Write(TransactionOptions(), std::move(body));
  }
  void Write(TransactionOptions options,
             std::function<platform::ports::Awaitable<void>(SqlTransaction&)> body) {
    auto r = RunSync(store_->Transact(std::move(options), std::move(body)));
    ASSERT_TRUE(r.has_value()) << r.error().message << " " << r.error().internal;
  }

  domain::User User(const std::string& email) {
    domain::User u;
    u.id = ids_.Next();
    u.email = email;
    u.name = email;
    Write([&](SqlTransaction& tx) { return InsertUser(tx, u); });
    return u;
  }
  domain::Org Org(const std::string& slug, const std::string& owner) {
    domain::Org o;
    o.id = ids_.Next();
    o.slug = slug;
    o.name = slug;
    o.created_by = owner;
    Write([&](SqlTransaction& tx) { return InsertOrg(tx, o); });
    return o;
  }
  Member Add(const std::string& org, const std::string& user, const std::string& email, Role role,
             MemberStatus status) {
    Member m;
    m.org_id = org;
    m.id = ids_.Next();
    m.user_id = user;
    m.email = email;
    m.role = role;
    m.status = status;
    m.invited_by = "test";
    Write(TransactionOptions().Org(org), [&](SqlTransaction& tx) { return InsertMember(tx, m); });
    return m;
  }

  std::unique_ptr<EngineStore> db_;
  platform::ports::SqlStore* store_;
  core::SystemClock clock_;
  core::UuidV7Generator ids_;
};

TEST_P(IdentityStoreTest, MembershipQueriesNeverCrossOrgs) {
  auto ada = User("ada@example.com");
  auto a = Org("org-a", ada.id);
  auto b = Org("org-b", ada.id);
  auto in_a = Add(a.id, ada.id, ada.email, Role::kOwner, MemberStatus::kActive);
  std::optional<Member> cross, own, active_in_b;
  std::int64_t owners_a = 0, owners_b = 0;
  std::vector<Member> list_b;
  // Org A, and Ada's own memberships in every org (memberships_own): her row in A is visible
  // to the transaction, so only the queries' org filter keeps it out of org B's answers.
  Write(TransactionOptions().Org(a.id).Setting("trellis.user_id", ada.id),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          cross = *co_await GetMember(tx, b.id, in_a.id);
          own = *co_await GetMember(tx, a.id, in_a.id);
          active_in_b = *co_await GetActiveMembership(tx, b.id, ada.id);
          owners_a = *co_await CountActiveOwners(tx, a.id);
          owners_b = *co_await CountActiveOwners(tx, b.id);
          list_b = *co_await ListMembers(tx, b.id, "", 10);
          co_return core::Result<void>();
        });
  EXPECT_FALSE(cross.has_value()) << "a member of org A is not found through org B";
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->role, Role::kOwner);
  EXPECT_FALSE(active_in_b.has_value());
  EXPECT_EQ(owners_a, 1);
  EXPECT_EQ(owners_b, 0);
  EXPECT_TRUE(list_b.empty());
}

TEST_P(IdentityStoreTest, OrgsOfAUserAreHisActiveOnesInKeyOrder) {
  auto ada = User("ada@example.com");
  std::vector<std::string> ids;
  for (const char* slug : {"one", "two", "three"}) {
    auto o = Org(slug, ada.id);
    Add(o.id, ada.id, ada.email, Role::kMember, MemberStatus::kActive);
    ids.push_back(o.id);
  }
  auto pending = Org("pending", ada.id);
  Add(pending.id, "", "ada@example.com", Role::kViewer, MemberStatus::kPending);
  std::vector<OrgWithRole> first, rest;
  // Across orgs, as ListMyOrgs: the user's own memberships (memberships_own).
  Write(TransactionOptions().ReadOnly().Setting("trellis.user_id", ada.id),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          first = *co_await ListOrgsOfUser(tx, ada.id, "", 2);
          rest = *co_await ListOrgsOfUser(tx, ada.id, first.back().org.id, 10);
          co_return core::Result<void>();
        });
  // Key order (UUIDv7 ids order by millisecond, then randomly within one).
  std::sort(ids.begin(), ids.end());
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(first[0].org.id, ids[0]);
  EXPECT_EQ(rest[0].org.id, ids[2]);
}

TEST_P(IdentityStoreTest, SlugsAreUniqueAndUpdatesBumpTheVersion) {
  auto ada = User("ada@example.com");
  auto a = Org("acme", ada.id);
  bool taken_by_other = false, taken_by_self = true;
  std::optional<domain::Org> after;
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
    taken_by_other = *co_await SlugTaken(tx, "acme", "another-org");
    taken_by_self = *co_await SlugTaken(tx, "acme", a.id);
    domain::Org next = a;
    next.name = "Acme Inc";
    next.version = 2;
    if (auto r = co_await UpdateOrg(tx, next); !r) co_return r;
    after = *co_await GetOrg(tx, a.id);
    co_return core::Result<void>();
  });
  EXPECT_TRUE(taken_by_other);
  EXPECT_FALSE(taken_by_self);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->name, "Acme Inc");
  EXPECT_EQ(after->version, 2);
  domain::Org same_slug = a;  // outlives the coroutine that reads it by reference
  same_slug.id = "other";
  auto duplicate =
      RunSync(store_->Transact({}, [&](SqlTransaction& tx) { return InsertOrg(tx, same_slug); }));
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, core::ErrorCode::kAlreadyExists);
}

TEST_P(IdentityStoreTest, ApiKeysAreFoundByTheirHashAndRevoked) {
  auto ada = User("ada@example.com");
  auto a = Org("acme", ada.id);
  domain::ApiKey key;
  key.org_id = a.id;
  key.id = ids_.Next();
  key.name = "ci";
  key.role = Role::kMember;
  key.prefix = "trk_abcdefgh";
  key.created_by = ada.id;
  const std::string hash = "hash-1";  // referenced by the coroutine until it finishes
  Write(TransactionOptions().Org(a.id),
        [&](SqlTransaction& tx) { return InsertApiKey(tx, key, hash); });
  std::optional<domain::ApiKey> found, missing, other_org;
  // Org A's keys are visible to this transaction: the queries' filters pick among them.
  Write(TransactionOptions().Org(a.id).Setting("trellis.api_key_sha256", hash),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          found = *co_await FindApiKeyBySecret(tx, "hash-1");
          missing = *co_await FindApiKeyBySecret(tx, "hash-2");
          other_org = *co_await GetApiKey(tx, "another-org", key.id);
          domain::ApiKey revoked = key;
          revoked.revoked_at_ms = 42;
          revoked.version = 2;
          co_return co_await RevokeApiKey(tx, revoked);
        });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->role, Role::kMember);
  EXPECT_FALSE(found->revoked_at_ms.has_value());
  EXPECT_FALSE(missing.has_value());
  EXPECT_FALSE(other_org.has_value());
  // As authentication does: no org, only the hash (api_keys_by_secret).
  Write(TransactionOptions().ReadOnly().Setting("trellis.api_key_sha256", hash),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          found = *co_await FindApiKeyBySecret(tx, "hash-1");
          co_return core::Result<void>();
        });
  EXPECT_EQ(found->revoked_at_ms, 42);
}

TEST_P(IdentityStoreTest, InvitationsActivateOnceAndEmitOneEventEach) {
  auto owner = User("owner@example.com");
  auto a = Org("acme", owner.id);
  auto b = Org("beta", owner.id);
  Add(a.id, "", "new@example.com", Role::kMember, MemberStatus::kPending);
  Add(b.id, "", "new@example.com", Role::kViewer, MemberStatus::kPending);
  auto newcomer = User("new@example.com");
  std::int64_t joined = 0, again = 0, outbox = 0;
  bool pending_left = true;
  // As ResolveSubject's write: the user's id and verified address, no org.
  Write(TransactionOptions()
            .Setting("trellis.user_id", newcomer.id)
            .Setting("trellis.email", newcomer.email),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          joined =
              *co_await app::ActivatePendingMemberships(tx, newcomer.id, newcomer.email, 1, ids_);
          again =
              *co_await app::ActivatePendingMemberships(tx, newcomer.id, newcomer.email, 2, ids_);
          pending_left = *co_await HasPendingInvites(tx, newcomer.email);
          co_return core::Result<void>();
        });
  // Every org's events, as the outbox relay reads them (outbox_relay_read).
  Write(TransactionOptions().ReadOnly().Setting("trellis.outbox_relay", "on"),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          auto n = co_await tx.Execute(
              "SELECT COUNT(*) AS n FROM outbox WHERE type = "
              "'identity.member.joined'");
          if (!n) co_return std::unexpected(n.error());
          outbox = *n->rows.at(0).Get<std::int64_t>("n");
          co_return core::Result<void>();
        });
  EXPECT_EQ(joined, 2);
  EXPECT_EQ(again, 0);
  EXPECT_FALSE(pending_left);
  EXPECT_EQ(outbox, 2);
}

// The database itself keeps the orgs apart: a transaction for org A that asks for org B's
// membership and API key by id, without the org filter the store's queries carry, sees
// nothing, and cannot write a membership into org B.
TEST_P(IdentityStoreTest, TheDatabaseRefusesCrossOrgAccess) {
  if (!db_->IsPostgres()) {
    GTEST_SKIP() << "SQLite has no row-level security: org scoping is the queries' job there "
                    "(MembershipQueriesNeverCrossOrgs)";
  }
  auto ada = User("ada@example.com");
  auto a = Org("org-a", ada.id);
  auto b = Org("org-b", ada.id);
  auto in_b = Add(b.id, ada.id, ada.email, Role::kOwner, MemberStatus::kActive);
  domain::ApiKey key;
  key.org_id = b.id;
  key.id = ids_.Next();
  key.name = "ci";
  key.role = Role::kMember;
  key.prefix = "trk_bbbbbbbb";
  key.created_by = ada.id;
  const std::string hash = "hash-b";
  Write(TransactionOptions().Org(b.id),
        [&](SqlTransaction& tx) { return InsertApiKey(tx, key, hash); });
  std::size_t members = 99, keys = 99;
  Write(TransactionOptions().ReadOnly().Org(a.id),
        [&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
          platform::ports::SqlParams by_member{in_b.id};
          auto m = co_await tx.Execute("SELECT org_id FROM memberships WHERE id = $1", by_member);
          if (!m) co_return std::unexpected(m.error());
          members = m->rows.size();
          platform::ports::SqlParams by_key{key.id};
          auto k = co_await tx.Execute("SELECT org_id FROM api_keys WHERE id = $1", by_key);
          if (!k) co_return std::unexpected(k.error());
          keys = k->rows.size();
          co_return core::Result<void>();
        });
  EXPECT_EQ(members, 0u);
  EXPECT_EQ(keys, 0u);
  Member intruder;
  intruder.org_id = b.id;
  intruder.id = ids_.Next();
  intruder.user_id = ada.id;
  intruder.email = "intruder@example.com";
  intruder.role = Role::kOwner;
  intruder.status = MemberStatus::kActive;
  intruder.invited_by = "test";
  auto write = RunSync(store_->Transact(TransactionOptions().Org(a.id), [&](SqlTransaction& tx) {
    return InsertMember(tx, intruder);
  }));
  EXPECT_FALSE(write.has_value()) << "a membership of org B written by a transaction of org A";
  // The superuser sees B's rows, and nothing was added to B.
  EXPECT_EQ(db_->Psql("SELECT count(*) FROM memberships WHERE org_id = '" + b.id + "'"), "1");
  EXPECT_EQ(db_->Psql("SELECT count(*) FROM api_keys WHERE org_id = '" + b.id + "'"), "1");
}

INSTANTIATE_TEST_SUITE_P(, IdentityStoreTest, tests::support::AllSqlEngines(),
                         tests::support::SqlEngineName);

}  // namespace
}  // namespace trellis::identity::store
