// IdentityApp on a real, migrated database: who may take up an invitation.
#include "services/identity/app/identity_app.hpp"

#include <gtest/gtest.h>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::identity::app {
namespace {

namespace core = platform::core;
using platform::ports::RunSync;

class IdentityAppTest : public ::testing::Test {
 protected:
  IdentityAppTest() : ids_(clock_) {
    auto opened = adapters::sqlite::SqliteStore::Open(
        {.path = dir_.Path() / "identity.db", .name = "identity"}, clock_, registry_);
    if (!opened) throw std::runtime_error(opened.error().internal);
    store_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_IDENTITY_MIGRATIONS);
    if (!migrations) throw std::runtime_error(migrations.error().message);
    if (!RunSync(platform::store::Migrate(*store_, *migrations, clock_, {}))) {
      throw std::runtime_error("migrate");
    }
    app_ = std::make_unique<IdentityApp>(*store_, clock_, ids_, nullptr);
  }

  identity::v1::User Resolve(const std::string& sub, const std::string& email, bool verified) {
    identity::v1::ResolveSubjectRequest rq;
    rq.set_issuer("https://idp.example");
    rq.set_subject(sub);
    rq.set_email(email);
    rq.set_email_verified(verified);
    auto user = RunSync(app_->ResolveSubject(rq, {}));
    if (!user) throw std::runtime_error(user.error().message);
    return *user;
  }
  bool IsMember(const std::string& org, const std::string& user) {
    identity::v1::GetMembershipRequest rq;
    rq.set_org_id(org);
    rq.set_user_id(user);
    return RunSync(app_->GetMembership(rq, {})).has_value();
  }

  tests::support::TempDir dir_;
  core::SystemClock clock_;
  core::UuidV7Generator ids_;
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
  std::unique_ptr<IdentityApp> app_;
};

TEST_F(IdentityAppTest, OnlyAVerifiedEmailTakesUpAnInvitation) {
  const auto owner = Resolve("owner", "owner@example.com", true);
  CreateOrgInput org_input;
  org_input.name = "Acme";
  org_input.slug = "acme";
  auto org = RunSync(app_->AdminCreateOrg({}, org_input, owner.id()));
  ASSERT_TRUE(org.has_value()) << org.error().message;
  core::Principal who;
  who.user_id = owner.id();
  InviteInput invite;
  invite.email = "new@example.com";
  invite.role = domain::Role::kMember;
  ASSERT_TRUE(RunSync(app_->InviteMember(who, {}, org->id, invite)).has_value());

  // An issuer that does not vouch for the address: the user exists, the invitation waits.
  const auto claimant = Resolve("someone", "new@example.com", false);
  EXPECT_FALSE(IsMember(org->id, claimant.id()));
  EXPECT_FALSE(IsMember(org->id, Resolve("someone", "new@example.com", false).id()));
  // The same subject, now with the address verified: the invitation is taken up.
  const auto verified = Resolve("someone", "new@example.com", true);
  EXPECT_EQ(verified.id(), claimant.id());
  EXPECT_TRUE(IsMember(org->id, verified.id()));
}

// Invitations follow the address the issuer vouches for in this token, not the one stored when
// the user was first seen: a user who moved from old@ to new@ at their issuer takes up new@'s
// invitations and no longer old@'s.
TEST_F(IdentityAppTest, InvitationsFollowTheTokensVerifiedAddressNotTheStoredOne) {
  const auto owner = Resolve("owner", "owner@example.com", true);
  CreateOrgInput org_input;
  org_input.name = "Acme";
  org_input.slug = "acme-moves";
  auto org = RunSync(app_->AdminCreateOrg({}, org_input, owner.id()));
  ASSERT_TRUE(org.has_value()) << org.error().message;
  const auto mover = Resolve("mover", "old@example.com", true);
  core::Principal who;
  who.user_id = owner.id();
  InviteInput to_old;
  to_old.email = "old@example.com";
  to_old.role = domain::Role::kMember;
  ASSERT_TRUE(RunSync(app_->InviteMember(who, {}, org->id, to_old)).has_value());

  // The issuer now says the subject's (verified) address is new@: old@'s invitation waits.
  EXPECT_EQ(Resolve("mover", "new@example.com", true).id(), mover.id());
  EXPECT_FALSE(IsMember(org->id, mover.id()));

  CreateOrgInput second_input;
  second_input.name = "Beta";
  second_input.slug = "beta-moves";
  auto second = RunSync(app_->AdminCreateOrg({}, second_input, owner.id()));
  ASSERT_TRUE(second.has_value()) << second.error().message;
  InviteInput to_new;
  to_new.email = "new@example.com";
  to_new.role = domain::Role::kMember;
  ASSERT_TRUE(RunSync(app_->InviteMember(who, {}, second->id, to_new)).has_value());
  EXPECT_EQ(Resolve("mover", "new@example.com", true).id(), mover.id());
  EXPECT_TRUE(IsMember(second->id, mover.id()));
  EXPECT_FALSE(IsMember(org->id, mover.id()));
}

}  // namespace
}  // namespace trellis::identity::app
