// The identity repository on a real, migrated SQLite database: every query is scoped by org,
// and invitations become memberships once.
#include "services/identity/store/identity_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "services/identity/app/membership_activation.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::identity::store {
namespace {

namespace core = platform::core;
using domain::Member;
using domain::MemberStatus;
using domain::Role;
using platform::ports::SqlTransaction;

using ::trellis::platform::ports::RunSync;

class IdentityStoreTest : public ::testing::Test {
 protected:
  IdentityStoreTest() : ids_(clock_) {
    auto opened = adapters::sqlite::SqliteStore::Open(
        {.path = dir_.Path() / "identity.db", .name = "identity"}, clock_, registry_);
    if (!opened) throw std::runtime_error(opened.error().internal);
    store_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_IDENTITY_MIGRATIONS);
    if (!migrations) throw std::runtime_error(migrations.error().message);
    auto applied = RunSync(platform::store::Migrate(*store_, *migrations, clock_, {}));
    if (!applied) throw std::runtime_error(applied.error().internal);
  }

  // Runs body in a write transaction and expects it to succeed.
  void Write(std::function<platform::ports::Awaitable<void>(SqlTransaction&)> body) {
    auto r = RunSync(store_->Transact({}, std::move(body)));
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
    Write([&](SqlTransaction& tx) { return InsertMember(tx, m); });
    return m;
  }

  tests::support::TempDir dir_;
  core::SystemClock clock_;
  core::UuidV7Generator ids_;
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
};

TEST_F(IdentityStoreTest, MembershipQueriesNeverCrossOrgs) {
  auto ada = User("ada@example.com");
  auto a = Org("org-a", ada.id);
  auto b = Org("org-b", ada.id);
  auto in_a = Add(a.id, ada.id, ada.email, Role::kOwner, MemberStatus::kActive);
  std::optional<Member> cross, own, active_in_b;
  std::int64_t owners_a = 0, owners_b = 0;
  std::vector<Member> list_b;
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
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

TEST_F(IdentityStoreTest, OrgsOfAUserAreHisActiveOnesInKeyOrder) {
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
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
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

TEST_F(IdentityStoreTest, SlugsAreUniqueAndUpdatesBumpTheVersion) {
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

TEST_F(IdentityStoreTest, ApiKeysAreFoundByTheirHashAndRevoked) {
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
  Write([&](SqlTransaction& tx) { return InsertApiKey(tx, key, hash); });
  std::optional<domain::ApiKey> found, missing, other_org;
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
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
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
    found = *co_await FindApiKeyBySecret(tx, "hash-1");
    co_return core::Result<void>();
  });
  EXPECT_EQ(found->revoked_at_ms, 42);
}

TEST_F(IdentityStoreTest, InvitationsActivateOnceAndEmitOneEventEach) {
  auto owner = User("owner@example.com");
  auto a = Org("acme", owner.id);
  auto b = Org("beta", owner.id);
  Add(a.id, "", "new@example.com", Role::kMember, MemberStatus::kPending);
  Add(b.id, "", "new@example.com", Role::kViewer, MemberStatus::kPending);
  auto newcomer = User("new@example.com");
  std::int64_t joined = 0, again = 0, outbox = 0;
  bool pending_left = true;
  Write([&](SqlTransaction& tx) -> platform::ports::Awaitable<void> {
    joined = *co_await app::ActivatePendingMemberships(tx, newcomer.id, newcomer.email, 1, ids_);
    again = *co_await app::ActivatePendingMemberships(tx, newcomer.id, newcomer.email, 2, ids_);
    pending_left = *co_await HasPendingInvites(tx, newcomer.email);
    auto n = co_await tx.Execute(
        "SELECT COUNT(*) AS n FROM outbox WHERE type = "
        "'identity.member.joined'");
    outbox = *n->rows.at(0).Get<std::int64_t>("n");
    co_return core::Result<void>();
  });
  EXPECT_EQ(joined, 2);
  EXPECT_EQ(again, 0);
  EXPECT_FALSE(pending_left);
  EXPECT_EQ(outbox, 2);
}

}  // namespace
}  // namespace trellis::identity::store
