#include "tests/contract/token_store_contract.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "platform/ports/run_sync.hpp"

namespace trellis::tests::contract {

using platform::core::ErrorCode;
using platform::ports::RevocationPage;
using platform::ports::RunSync;
using std::chrono::milliseconds;
using WallTime = platform::core::Clock::WallTime;

// Test binaries that link the suite without instantiating it (other tests of an adapter).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TokenStoreContract);

std::string TokenStoreAdapterName(const ::testing::TestParamInfo<TokenStoreAdapter>& info) {
  return info.param.name;
}

void TokenStoreContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

platform::core::Clock::MonoTime TokenStoreContract::Deadline() {
  return harness_->Clock().Monotonic() + std::chrono::seconds(5);
}

WallTime TokenStoreContract::In(milliseconds d) {
  return std::chrono::floor<milliseconds>(harness_->Clock().Now()) + d;
}

void TokenStoreContract::Revoke(std::string session_id, WallTime expires_at) {
  auto r = RunSync(Tokens().Revoke(std::move(session_id), expires_at, Deadline()));
  EXPECT_TRUE(r.has_value()) << r.error().internal;
}

RevocationPage TokenStoreContract::Since(std::string cursor) {
  auto page = RunSync(Tokens().RevokedSince(std::move(cursor), Deadline()));
  EXPECT_TRUE(page.has_value()) << page.error().internal;
  if (!page) return RevocationPage{};
  return std::move(*page);
}

namespace {

constexpr milliseconds kLong{60'000};
// Short expiries that a real server's suite can wait out quickly; the waits leave a margin.
constexpr milliseconds kShort{150};
constexpr milliseconds kPastShort{300};

std::vector<std::string> Sessions(const RevocationPage& page) {
  std::vector<std::string> out;
  for (const auto& r : page.revoked) out.push_back(r.session_id);
  return out;
}

}  // namespace

TEST_P(TokenStoreContract, EmptyStoreListsNothing) {
  const RevocationPage page = Since("");
  EXPECT_TRUE(page.revoked.empty());
  EXPECT_FALSE(page.reset);
  EXPECT_FALSE(page.cursor.empty());
  // Its cursor is good for the next call.
  const RevocationPage next = Since(page.cursor);
  EXPECT_FALSE(next.reset);
  EXPECT_TRUE(next.revoked.empty());
}

TEST_P(TokenStoreContract, RevocationsAreListedOldestFirst) {
  const WallTime e1 = In(kLong);
  const WallTime e2 = In(kLong + milliseconds(5));
  Revoke("sid-1", e1);
  Revoke("sid-2", e2);
  const RevocationPage page = Since("");
  EXPECT_FALSE(page.reset);
  ASSERT_EQ(page.revoked.size(), 2u);
  EXPECT_EQ(page.revoked[0].session_id, "sid-1");
  EXPECT_EQ(page.revoked[0].expires_at, e1);
  EXPECT_EQ(page.revoked[1].session_id, "sid-2");
  EXPECT_EQ(page.revoked[1].expires_at, e2);
}

TEST_P(TokenStoreContract, CursorReturnsOnlyLaterRevocations) {
  Revoke("sid-1", In(kLong));
  const RevocationPage first = Since("");
  ASSERT_EQ(Sessions(first), std::vector<std::string>{"sid-1"});

  Revoke("sid-2", In(kLong));
  Revoke("sid-3", In(kLong));
  const RevocationPage second = Since(first.cursor);
  EXPECT_FALSE(second.reset);
  EXPECT_EQ(Sessions(second), (std::vector<std::string>{"sid-2", "sid-3"}));

  const RevocationPage third = Since(second.cursor);
  EXPECT_FALSE(third.reset);
  EXPECT_TRUE(third.revoked.empty());
  // An earlier cursor still answers from where it was.
  EXPECT_EQ(Sessions(Since(first.cursor)), (std::vector<std::string>{"sid-2", "sid-3"}));
}

TEST_P(TokenStoreContract, RevokeIsIdempotent) {
  const WallTime expires = In(kLong);
  Revoke("sid-1", expires);
  const RevocationPage first = Since("");
  Revoke("sid-1", expires);
  Revoke("sid-1", expires - milliseconds(10));  // an earlier end changes nothing either
  EXPECT_EQ(Sessions(Since("")), std::vector<std::string>{"sid-1"});
  const RevocationPage after = Since(first.cursor);
  EXPECT_FALSE(after.reset);
  EXPECT_TRUE(after.revoked.empty());
  ASSERT_EQ(Since("").revoked.size(), 1u);
  EXPECT_EQ(Since("").revoked[0].expires_at, expires);
}

TEST_P(TokenStoreContract, LaterExpiryExtendsTheRevocation) {
  Revoke("sid-1", In(kShort));
  const RevocationPage first = Since("");
  const WallTime later = In(kLong);
  Revoke("sid-1", later);
  // Copies that had the short one learn the new end.
  const RevocationPage update = Since(first.cursor);
  ASSERT_EQ(update.revoked.size(), 1u);
  EXPECT_EQ(update.revoked[0].session_id, "sid-1");
  EXPECT_EQ(update.revoked[0].expires_at, later);

  Harness().Elapse(kPastShort);
  const RevocationPage all = Since("");
  ASSERT_EQ(all.revoked.size(), 1u);
  EXPECT_EQ(all.revoked[0].expires_at, later);
}

TEST_P(TokenStoreContract, ExpiredRevocationsAreForgotten) {
  Revoke("short", In(kShort));
  Revoke("long", In(kLong));
  EXPECT_EQ(Since("").revoked.size(), 2u);
  Harness().Elapse(kPastShort);
  const RevocationPage page = Since("");
  EXPECT_FALSE(page.reset);
  EXPECT_EQ(Sessions(page), std::vector<std::string>{"long"});
}

TEST_P(TokenStoreContract, CursorOlderThanWhatWasForgottenIsReset) {
  const RevocationPage start = Since("");
  Revoke("short", In(kShort));
  Revoke("long", In(kLong));
  Harness().Elapse(kPastShort);
  // "short" was recorded after `start` and is gone: a copy at `start` cannot be caught up.
  const RevocationPage stale = Since(start.cursor);
  EXPECT_TRUE(stale.reset);
  EXPECT_TRUE(stale.revoked.empty());
  // Starting again from "" rebuilds it.
  const RevocationPage again = Since("");
  EXPECT_FALSE(again.reset);
  EXPECT_EQ(Sessions(again), std::vector<std::string>{"long"});
}

TEST_P(TokenStoreContract, CursorPastWhatWasForgottenIsNotReset) {
  Revoke("short", In(kShort));
  const RevocationPage seen = Since("");
  ASSERT_EQ(seen.revoked.size(), 1u);
  Harness().Elapse(kPastShort);
  // The copy already had "short" (and may drop it itself): nothing it needs was forgotten.
  Revoke("next", In(kLong));
  const RevocationPage page = Since(seen.cursor);
  EXPECT_FALSE(page.reset);
  EXPECT_EQ(Sessions(page), std::vector<std::string>{"next"});
}

TEST_P(TokenStoreContract, CursorFromAnotherHistoryIsReset) {
  Revoke("sid-1", In(kLong));
  // Far beyond anything this store handed out: the store restarted since, or it is not its own.
  const RevocationPage page = Since("987654321987");
  EXPECT_TRUE(page.reset);
  EXPECT_TRUE(page.revoked.empty());
}

TEST_P(TokenStoreContract, MalformedCursorIsInvalid) {
  auto page = RunSync(Tokens().RevokedSince(std::string("not a cursor"), Deadline()));
  ASSERT_FALSE(page.has_value());
  EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(TokenStoreContract, PassedDeadlineFailsAndRecordsNothing) {
  const auto past = Harness().Clock().Monotonic() - milliseconds(1);
  auto revoke = RunSync(Tokens().Revoke(std::string("sid-1"), In(kLong), past));
  ASSERT_FALSE(revoke.has_value());
  EXPECT_EQ(revoke.error().code, ErrorCode::kDeadlineExceeded);
  auto since = RunSync(Tokens().RevokedSince(std::string(), past));
  ASSERT_FALSE(since.has_value());
  EXPECT_EQ(since.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_TRUE(Since("").revoked.empty());
}

TEST_P(TokenStoreContract, ManyRevocationsKeepTheirOrder) {
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    expected.push_back("sid-" + std::to_string(i));
    Revoke(expected.back(), In(kLong + milliseconds(i % 7)));
  }
  EXPECT_EQ(Sessions(Since("")), expected);
}

}  // namespace trellis::tests::contract
