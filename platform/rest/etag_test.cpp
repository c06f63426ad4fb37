// ETag, If-Match (428/400/412 rules) and If-None-Match.
#include "platform/rest/etag.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trellis::platform::rest {
namespace {

using core::ErrorCode;

// Headers are views; the test keeps their text alive in `values`.
class EtagTest : public ::testing::Test {
 protected:
  http::Request With(std::vector<std::pair<std::string, std::string>> headers) {
    stored_ = std::move(headers);
    http::Request req;
    for (const auto& [n, v] : stored_) req.headers.push_back(http::Header{n, v});
    return req;
  }
  std::vector<std::pair<std::string, std::string>> stored_;
};

TEST_F(EtagTest, ETagIsTheQuotedVersion) {
  EXPECT_EQ(ETag(7), "\"7\"");
  EXPECT_EQ(ETag(0), "\"0\"");
  EXPECT_EQ(ETag(1234567890123), "\"1234567890123\"");
}

TEST_F(EtagTest, AbsentIfMatchIs428) {
  auto r = RequireIfMatch(With({{"If-None-Match", "\"1\""}}));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kPreconditionRequired);
  EXPECT_EQ(r.error().message, "If-Match is required");
  EXPECT_EQ(core::HttpStatus(r.error().code), 428);
}

TEST_F(EtagTest, StrongTagMatchesItsVersionOnly) {
  auto r = RequireIfMatch(With({{"if-match", "\"3\""}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->any);
  EXPECT_TRUE(r->Matches(3));
  EXPECT_FALSE(r->Matches(4));
}

TEST_F(EtagTest, ListsAndSeveralFieldLinesCombine) {
  auto r = RequireIfMatch(With({{"If-Match", " \"1\" ,, \"2\"\t"}, {"If-Match", "\"9\""}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->versions, (std::vector<std::int64_t>{1, 2, 9}));
  EXPECT_TRUE(r->Matches(9));
  EXPECT_FALSE(r->Matches(3));
}

TEST_F(EtagTest, StarMatchesAnyVersion) {
  auto r = RequireIfMatch(With({{"If-Match", "*"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->any);
  EXPECT_TRUE(r->Matches(42));
}

TEST_F(EtagTest, WeakTagsNeverMatch) {
  auto r = RequireIfMatch(With({{"If-Match", "W/\"5\""}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->Matches(5));
}

TEST_F(EtagTest, TagsThatAreNotOursDoNotMatch) {
  auto r = RequireIfMatch(With({{"If-Match", "\"abc\", \"007\", \"+7\", \"\", \"7 \""}}));
  // "7 " is not valid etagc (space), so that one makes the header invalid; check without it.
  EXPECT_FALSE(r.has_value());
  auto ok = RequireIfMatch(With({{"If-Match", "\"abc\", \"007\", \"+7\", \"\""}}));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->versions.empty());
  EXPECT_FALSE(ok->Matches(7));
}

TEST_F(EtagTest, MalformedIfMatchIs400) {
  for (const char* bad :
       {"", "   ", "7", "\"7", "\"7\" \"8\"", "*, \"1\"", "**", "W/7", "w/\"7\"", "\"7\";x"}) {
    auto r = RequireIfMatch(With({{"If-Match", bad}}));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST_F(EtagTest, PreconditionFailedIs412) {
  auto e = PreconditionFailed();
  EXPECT_EQ(e.code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(core::HttpStatus(e.code), 412);
  EXPECT_EQ(e.message, "the resource has changed");
}

TEST_F(EtagTest, NotModifiedUsesWeakComparison) {
  EXPECT_TRUE(NotModified(With({{"If-None-Match", "\"4\""}}), 4));
  EXPECT_TRUE(NotModified(With({{"If-None-Match", "W/\"4\""}}), 4));
  EXPECT_TRUE(NotModified(With({{"If-None-Match", "\"1\", \"4\""}}), 4));
  EXPECT_TRUE(NotModified(With({{"If-None-Match", "*"}}), 4));
  EXPECT_FALSE(NotModified(With({{"If-None-Match", "\"5\""}}), 4));
  EXPECT_FALSE(NotModified(With({}), 4));
  EXPECT_FALSE(NotModified(With({{"If-None-Match", "4"}}), 4));  // malformed: ignored
}

}  // namespace
}  // namespace trellis::platform::rest
