#include "tests/contract/refresh_families_contract.hpp"

#include <array>
#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "platform/ports/run_sync.hpp"

namespace trellis::tests::contract {

using platform::ports::RefreshGrant;
using platform::ports::RotateOutcome;
using platform::ports::Rotation;
using platform::ports::RunSync;
using std::chrono::milliseconds;
using WallTime = platform::core::Clock::WallTime;

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RefreshFamiliesContract);

std::string RefreshFamiliesAdapterName(
    const ::testing::TestParamInfo<RefreshFamiliesAdapter>& info) {
  return info.param.name;
}

void RefreshFamiliesContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

platform::core::Clock::MonoTime RefreshFamiliesContract::Deadline() {
  return harness_->Clock().Monotonic() + std::chrono::seconds(5);
}

WallTime RefreshFamiliesContract::In(milliseconds d) {
  return std::chrono::floor<milliseconds>(harness_->Clock().Now()) + d;
}

RefreshGrant RefreshFamiliesContract::Grant(const std::string& family, const std::string& session) {
  RefreshGrant g;
  g.family_id = family;
  g.session_id = session;
  g.user_id = "user-" + session;
  g.client_id = "web";
  g.scope = "openid email";
  g.auth_time_ms = 1'700'000'000'000;
  harness_->Prepare(g);
  return g;
}

bool RefreshFamiliesContract::Issue(const std::string& token, const RefreshGrant& grant,
                                    WallTime expires_at) {
  auto r = RunSync(Families().Issue(token, grant, expires_at, Deadline()));
  EXPECT_TRUE(r.has_value()) << r.error().internal;
  return r.value_or(false);
}

Rotation RefreshFamiliesContract::Rotate(const std::string& token, const std::string& client,
                                         const std::string& next, WallTime next_expires_at) {
  auto r = RunSync(Families().Rotate(token, client, next, next_expires_at, Deadline()));
  EXPECT_TRUE(r.has_value()) << r.error().internal;
  return r.value_or(Rotation{});
}

void RefreshFamiliesContract::RevokeFamily(const std::string& family) {
  auto r = RunSync(Families().RevokeFamily(family, Deadline()));
  EXPECT_TRUE(r.has_value()) << r.error().internal;
}

void RefreshFamiliesContract::RevokeSession(const std::string& session) {
  auto r = RunSync(Families().RevokeSession(session, Deadline()));
  EXPECT_TRUE(r.has_value()) << r.error().internal;
}

namespace {

constexpr milliseconds kLong{60'000};
constexpr milliseconds kShort{150};
constexpr milliseconds kPastShort{300};

void ExpectGrant(const RefreshGrant& got, const RefreshGrant& want) {
  EXPECT_EQ(got.family_id, want.family_id);
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.user_id, want.user_id);
  EXPECT_EQ(got.client_id, want.client_id);
  EXPECT_EQ(got.scope, want.scope);
  EXPECT_EQ(got.auth_time_ms, want.auth_time_ms);
}

}  // namespace

TEST_P(RefreshFamiliesContract, RotationHandsTheGrantOnAlongTheChain) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  ASSERT_TRUE(Issue("rt-1", g, In(kLong)));
  const Rotation first = Rotate("rt-1", "web", "rt-2", In(kLong));
  EXPECT_EQ(first.outcome, RotateOutcome::kRotated);
  ExpectGrant(first.grant, g);
  const Rotation second = Rotate("rt-2", "web", "rt-3", In(kLong));
  EXPECT_EQ(second.outcome, RotateOutcome::kRotated);
  ExpectGrant(second.grant, g);
}

TEST_P(RefreshFamiliesContract, UnknownTokenIsUnknown) {
  EXPECT_EQ(Rotate("never-issued", "web", "rt-x", In(kLong)).outcome, RotateOutcome::kUnknown);
  // ... and nothing was issued under the next name.
  EXPECT_EQ(Rotate("rt-x", "web", "rt-y", In(kLong)).outcome, RotateOutcome::kUnknown);
}

TEST_P(RefreshFamiliesContract, ReusedTokenRevokesItsWholeFamily) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  const RefreshGrant other = Grant("fam-2", "sid-2");
  ASSERT_TRUE(Issue("rt-1", g, In(kLong)));
  ASSERT_TRUE(Issue("other-1", other, In(kLong)));
  ASSERT_EQ(Rotate("rt-1", "web", "rt-2", In(kLong)).outcome, RotateOutcome::kRotated);

  const Rotation reused = Rotate("rt-1", "web", "rt-evil", In(kLong));
  EXPECT_EQ(reused.outcome, RotateOutcome::kReused);
  ExpectGrant(reused.grant, g);  // the caller learns the session to end
  // The legitimate holder's current token is dead too, and nothing was issued to the reuser.
  EXPECT_EQ(Rotate("rt-2", "web", "rt-3", In(kLong)).outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(Rotate("rt-evil", "web", "rt-4", In(kLong)).outcome, RotateOutcome::kUnknown);
  // Another family is untouched.
  EXPECT_EQ(Rotate("other-1", "web", "other-2", In(kLong)).outcome, RotateOutcome::kRotated);
}

TEST_P(RefreshFamiliesContract, WrongClientChangesNothing) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  ASSERT_TRUE(Issue("rt-1", g, In(kLong)));
  const Rotation wrong = Rotate("rt-1", "someone-else", "rt-2", In(kLong));
  EXPECT_EQ(wrong.outcome, RotateOutcome::kWrongClient);
  EXPECT_EQ(Rotate("rt-2", "web", "rt-3", In(kLong)).outcome, RotateOutcome::kUnknown);
  // The token is still live for its own client.
  EXPECT_EQ(Rotate("rt-1", "web", "rt-2", In(kLong)).outcome, RotateOutcome::kRotated);
}

TEST_P(RefreshFamiliesContract, ExpiredTokenIsRefusedAndUsedUp) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  ASSERT_TRUE(Issue("rt-1", g, In(kShort)));
  Harness().Elapse(kPastShort);
  EXPECT_EQ(Rotate("rt-1", "web", "rt-2", In(kLong)).outcome, RotateOutcome::kExpired);
  EXPECT_EQ(Rotate("rt-2", "web", "rt-3", In(kLong)).outcome, RotateOutcome::kUnknown);
}

TEST_P(RefreshFamiliesContract, RotatedTokenGetsItsOwnExpiry) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  ASSERT_TRUE(Issue("rt-1", g, In(kLong)));
  ASSERT_EQ(Rotate("rt-1", "web", "rt-2", In(kShort)).outcome, RotateOutcome::kRotated);
  Harness().Elapse(kPastShort);
  EXPECT_EQ(Rotate("rt-2", "web", "rt-3", In(kLong)).outcome, RotateOutcome::kExpired);
}

TEST_P(RefreshFamiliesContract, RevokedFamilyIsRefusedAndRevokingIsIdempotent) {
  const RefreshGrant g = Grant("fam-1", "sid-1");
  const RefreshGrant sibling = Grant("fam-2", "sid-1");  // the same session, another family
  ASSERT_TRUE(Issue("rt-1", g, In(kLong)));
  ASSERT_TRUE(Issue("sib-1", sibling, In(kLong)));
  RevokeFamily("fam-1");
  RevokeFamily("fam-1");
  RevokeFamily("no-such-family");
  const Rotation refused = Rotate("rt-1", "web", "rt-2", In(kLong));
  EXPECT_EQ(refused.outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(Rotate("rt-2", "web", "rt-3", In(kLong)).outcome, RotateOutcome::kUnknown);
  EXPECT_EQ(Rotate("sib-1", "web", "sib-2", In(kLong)).outcome, RotateOutcome::kRotated);
}

TEST_P(RefreshFamiliesContract, RevokedSessionRefusesEveryFamilyOfItAndLaterIssues) {
  const RefreshGrant a = Grant("fam-a", "sid-1");
  const RefreshGrant b = Grant("fam-b", "sid-1");
  const RefreshGrant other = Grant("fam-c", "sid-2");
  ASSERT_TRUE(Issue("a-1", a, In(kLong)));
  ASSERT_TRUE(Issue("b-1", b, In(kLong)));
  ASSERT_TRUE(Issue("c-1", other, In(kLong)));
  ASSERT_EQ(Rotate("b-1", "web", "b-2", In(kLong)).outcome, RotateOutcome::kRotated);
  RevokeSession("sid-1");
  RevokeSession("sid-1");
  EXPECT_EQ(Rotate("a-1", "web", "a-2", In(kLong)).outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(Rotate("b-2", "web", "b-3", In(kLong)).outcome, RotateOutcome::kRevoked);
  EXPECT_EQ(Rotate("c-1", "web", "c-2", In(kLong)).outcome, RotateOutcome::kRotated);
  // A code exchanged after the sign-out gets no refresh token.
  const RefreshGrant late = Grant("fam-late", "sid-1");
  EXPECT_FALSE(Issue("late-1", late, In(kLong)));
  EXPECT_EQ(Rotate("late-1", "web", "late-2", In(kLong)).outcome, RotateOutcome::kUnknown);
}

TEST_P(RefreshFamiliesContract, OfConcurrentRotationsExactlyOneWins) {
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string family = "fam-" + std::to_string(round);
    const RefreshGrant g = Grant(family, "sid-" + std::to_string(round));
    const std::string token = family + "-rt";
    ASSERT_TRUE(Issue(token, g, In(kLong)));
    std::array<RotateOutcome, 2> outcomes{};
    std::array<std::thread, 2> racers;
    for (std::size_t i = 0; i < racers.size(); ++i) {
      racers[i] = std::thread([&, i] {
        outcomes[i] = Rotate(token, "web", token + "-next-" + std::to_string(i), In(kLong)).outcome;
      });
    }
    for (auto& t : racers) t.join();
    const int rotated = (outcomes[0] == RotateOutcome::kRotated ? 1 : 0) +
                        (outcomes[1] == RotateOutcome::kRotated ? 1 : 0);
    const int reused = (outcomes[0] == RotateOutcome::kReused ? 1 : 0) +
                       (outcomes[1] == RotateOutcome::kReused ? 1 : 0);
    ASSERT_EQ(rotated, 1) << "round " << round;
    ASSERT_EQ(reused, 1) << "round " << round;
    // The loser's reuse revoked the family: the winner's new token is refused too.
    const std::size_t winner = outcomes[0] == RotateOutcome::kRotated ? 0 : 1;
    EXPECT_EQ(Rotate(token + "-next-" + std::to_string(winner), "web", token + "-after", In(kLong))
                  .outcome,
              RotateOutcome::kRevoked);
  }
}

}  // namespace trellis::tests::contract
