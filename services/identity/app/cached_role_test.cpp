// Cached roles (proto/trellis/identity/v1/membership_cache.hpp, ADR 0019) over IdentityApp on a
// real SQLite identity database and the in-process cache: a warm hit reads nothing, a role
// change or a removal is seen by the very next call, and a change committed during a read is
// not left cached as the old role.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "adapters/memory/memory_cache.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/cache/cache_aside.hpp"
#include "platform/cache/invalidator.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "proto/trellis/identity/v1/membership_cache.hpp"
#include "services/identity/app/identity_app.hpp"
#include "tests/support/interleaving_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::identity::app {
namespace {

namespace core = platform::core;
using core::Role;
using platform::ports::Awaitable;
using platform::ports::RunSync;
using platform::ports::SqlStore;
using platform::ports::TransactionBody;
using platform::ports::TransactionOptions;

using tests::support::InterleavingStore;

bool AnyVersion(std::int64_t /*version*/) { return true; }

class IdentityAppCacheTest : public ::testing::Test {
 protected:
  IdentityAppCacheTest()
      : ids_(clock_),
        memory_(adapters::memory::CacheSettings{}, clock_),
        cache_(memory_, clock_, registry_, "test"),
        invalidator_(cache_, clock_) {
    invalidator_.On(identity::v1::kMembershipEventPrefix, identity::v1::kMembershipNamespacePrefix);
    auto opened = adapters::sqlite::SqliteStore::Open(
        {.path = dir_.Path() / "identity.db", .name = "identity"}, clock_, registry_);
    if (!opened) throw std::runtime_error(opened.error().internal);
    sqlite_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_IDENTITY_MIGRATIONS);
    if (!migrations) throw std::runtime_error(migrations.error().message);
    auto applied = RunSync(platform::store::Migrate(*sqlite_, *migrations, clock_, {}));
    if (!applied) throw std::runtime_error(applied.error().internal);
    store_ = std::make_unique<InterleavingStore>(*sqlite_);
    app_ = std::make_unique<IdentityApp>(*store_, clock_, ids_, nullptr, &invalidator_);
  }

  void SetUp() override {
    owner_.user_id = Resolve("owner@example.com");
    member_.user_id = Resolve("member@example.com");
    CreateOrgInput in;
    in.name = "Acme";
    in.slug = "acme";
    auto org = RunSync(app_->CreateOrg(owner_, {}, std::move(in)));
    ASSERT_TRUE(org) << org.error().message;
    org_ = org->org.id;
    InviteInput invite;
    invite.email = "member@example.com";
    invite.role = Role::kViewer;
    auto invited = RunSync(app_->InviteMember(owner_, {}, org_, std::move(invite)));
    ASSERT_TRUE(invited) << invited.error().message;
    member_id_ = invited->id;
    // Signing in again activates the invitation (the activation path).
    EXPECT_EQ(Resolve("member@example.com"), member_.user_id);
  }

  std::string Resolve(const std::string& email) {
    identity::v1::ResolveSubjectRequest r;
    r.set_issuer("https://issuer.test");
    r.set_subject(email);
    r.set_email(email);
    r.set_email_verified(true);  // invitations are taken up by verified addresses only
    auto user = RunSync(app_->ResolveSubject(std::move(r), {}));
    EXPECT_TRUE(user) << user.error().message;
    return user ? user->id() : std::string();
  }
  core::Result<Role> Membership() {
    return RunSync(identity::v1::CachedRoleIn(&cache_, *app_, member_, org_, {}));
  }
  Awaitable<domain::Member> ChangeRole(Role role) {
    return app_->ChangeMemberRole(owner_, {}, org_, member_id_, role, AnyVersion);
  }

  tests::support::TempDir dir_;
  core::ManualClock clock_;
  platform::observe::Registry registry_;
  core::UuidV7Generator ids_;
  adapters::memory::MemoryCache memory_;
  platform::cache::CacheAside cache_;
  platform::cache::CacheInvalidator invalidator_;
  std::unique_ptr<adapters::sqlite::SqliteStore> sqlite_;
  std::unique_ptr<InterleavingStore> store_;
  std::unique_ptr<IdentityApp> app_;
  Principal owner_;
  Principal member_;
  std::string org_;
  std::string member_id_;
};

TEST_F(IdentityAppCacheTest, AWarmHitReadsNothingAndChangesAreSeenAtOnce) {
  ASSERT_EQ(Membership(), Role::kViewer);
  const int reads = store_->reads;
  ASSERT_EQ(Membership(), Role::kViewer);
  EXPECT_EQ(store_->reads, reads) << "the second call is served from the cache";
  EXPECT_GE(cache_.GetStats().hits, 1u);

  ASSERT_TRUE(RunSync(ChangeRole(Role::kAdmin)));
  EXPECT_EQ(Membership(), Role::kAdmin) << "viewer -> admin is seen by the very next call";
  EXPECT_EQ(Membership(), Role::kAdmin);

  ASSERT_TRUE(RunSync(app_->RemoveMember(owner_, {}, org_, member_id_, AnyVersion)));
  auto removed = Membership();
  ASSERT_FALSE(removed) << "a removed member is refused at once";
  EXPECT_EQ(removed.error().code, core::ErrorCode::kNotFound);
}

TEST_F(IdentityAppCacheTest, AChangeCommittedDuringAReadIsNotLeftCachedAsTheOldRole) {
  store_->during_read = [this]() -> Awaitable<void> {
    auto changed = co_await ChangeRole(Role::kAdmin);
    if (!changed) co_return std::unexpected(changed.error());
    co_return core::Result<void>();
  };
  EXPECT_EQ(Membership(), Role::kViewer) << "read before the change";
  EXPECT_EQ(Membership(), Role::kAdmin) << "the old role must not have been cached";
  EXPECT_EQ(Membership(), Role::kAdmin);
}

}  // namespace
}  // namespace trellis::identity::app
