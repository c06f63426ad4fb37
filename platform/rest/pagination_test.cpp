// limit/cursor parsing, signed cursors and the list body.
#include "platform/rest/pagination.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace trellis::platform::rest {
namespace {

using core::ErrorCode;

http::Request WithQuery(const std::string& query) {
  http::Request req;
  req.query = query;
  return req;
}

class PaginationTest : public ::testing::Test {
 protected:
  void SetUp() override { SetCursorKey("test-key-0123456789abcdef"); }
  void TearDown() override { SetCursorKey(""); }
};

TEST_F(PaginationTest, DefaultsWithoutParameters) {
  const std::string q;
  auto p = ParsePage(WithQuery(q), "b");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->limit, kDefaultLimit);
  EXPECT_FALSE(p->after.has_value());
}

TEST_F(PaginationTest, LimitInRange) {
  for (int n : {1, 17, kMaxLimit}) {
    const std::string q = "limit=" + std::to_string(n);
    auto p = ParsePage(WithQuery(q), "b");
    ASSERT_TRUE(p.has_value()) << q;
    EXPECT_EQ(p->limit, n);
  }
}

TEST_F(PaginationTest, LimitOutOfRangeIs422AtSlashLimit) {
  for (const std::string q : {"limit=0", "limit=201", "limit=-1", "limit=abc",
                              "limit=", "limit=1.5", "limit=+5", "limit=99999999999999999999"}) {
    auto p = ParsePage(WithQuery(q), "b");
    ASSERT_FALSE(p.has_value()) << q;
    EXPECT_EQ(p.error().code, ErrorCode::kValidation) << q;
    ASSERT_EQ(p.error().fields.size(), 1u);
    EXPECT_EQ(p.error().fields[0].pointer, "/limit");
  }
}

TEST_F(PaginationTest, CursorRoundTrips) {
  const std::vector<std::string> position = {"2026-11-24T10:00:00.000Z",
                                             "018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e"};
  const std::string binding = "status=todo&sort=-created";
  const std::string cursor = EncodeCursor(position, binding);
  EXPECT_EQ(
      cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  const std::string q = "limit=10&cursor=" + cursor;
  auto p = ParsePage(WithQuery(q), binding);
  ASSERT_TRUE(p.has_value()) << p.error().internal;
  EXPECT_EQ(p->limit, 10);
  ASSERT_TRUE(p->after.has_value());
  EXPECT_EQ(*p->after, position);
}

TEST_F(PaginationTest, EmptyAndBinaryPartsRoundTrip) {
  const std::vector<std::string> position = {"", std::string("a\0b", 3), std::string(300, 'x')};
  auto back = DecodeCursor(EncodeCursor(position, ""), "");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, position);
  auto none = DecodeCursor(EncodeCursor({}, "x"), "x");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_F(PaginationTest, CursorFromAnotherBindingIsRefused) {
  const std::string cursor = EncodeCursor({"1", "a"}, "status=todo");
  const std::string q = "cursor=" + cursor;
  auto p = ParsePage(WithQuery(q), "status=done");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(p.error().message, "invalid cursor");
}

TEST_F(PaginationTest, TamperedCursorIsRefused) {
  std::string cursor = EncodeCursor({"100", "id"}, "b");
  for (std::size_t i = 0; i < cursor.size(); ++i) {
    std::string t = cursor;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    auto r = DecodeCursor(t, "b");
    EXPECT_FALSE(r.has_value()) << "flipped char " << i;
  }
  EXPECT_FALSE(DecodeCursor(cursor.substr(0, cursor.size() - 1), "b").has_value());
  EXPECT_FALSE(DecodeCursor(cursor + "A", "b").has_value());
}

TEST_F(PaginationTest, GarbageCursorIs400) {
  for (const std::string& c :
       std::vector<std::string>{"x", "!!!!", "AAAA", "%%%", std::string(3000, 'A')}) {
    const std::string q = "cursor=" + c;
    auto p = ParsePage(WithQuery(q), "b");
    ASSERT_FALSE(p.has_value()) << c;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(PaginationTest, EmptyCursorCountsAsAbsent) {
  const std::string q = "cursor=";
  auto p = ParsePage(WithQuery(q), "b");
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->after.has_value());
}

TEST_F(PaginationTest, AnotherKeyInvalidatesCursors) {
  const std::string cursor = EncodeCursor({"1"}, "b");
  SetCursorKey("another-key");
  EXPECT_FALSE(DecodeCursor(cursor, "b").has_value());
}

TEST_F(PaginationTest, TheSameCursorAgainUnderANewKeyIsSignedWithTheNewKey) {
  // Each thread remembers the last cursor it minted; a new key must not be answered from it.
  const std::string first = EncodeCursor({"7"}, "b");
  EXPECT_EQ(EncodeCursor({"7"}, "b"), first);
  EXPECT_NE(EncodeCursor({"7"}, "other"), first);
  EXPECT_NE(EncodeCursor({"8"}, "b"), first);
  SetCursorKey("another-key");
  const std::string again = EncodeCursor({"7"}, "b");
  EXPECT_NE(again, first);
  ASSERT_TRUE(DecodeCursor(again, "b").has_value());
  EXPECT_EQ(DecodeCursor(again, "b")->at(0), "7");
  EXPECT_FALSE(DecodeCursor(first, "b").has_value());
}

TEST_F(PaginationTest, ListBodyShape) {
  auto last = boost::json::parse(ListBody({R"({"id":"a"})", R"({"id":"b"})"}, std::nullopt));
  EXPECT_EQ(last.at("items").as_array().size(), 2u);
  EXPECT_EQ(last.at("items").at(1).at("id").as_string(), "b");
  EXPECT_TRUE(last.at("next_cursor").is_null());
  auto more = boost::json::parse(ListBody({}, std::string("abc")));
  EXPECT_TRUE(more.at("items").as_array().empty());
  EXPECT_EQ(more.at("next_cursor").as_string(), "abc");
}

TEST_F(PaginationTest, NextCursorTrimsTheExtraRow) {
  struct Row {
    std::string created;
    std::string id;
  };
  auto position = [](const Row& r) { return std::vector<std::string>{r.created, r.id}; };
  std::vector<Row> rows = {{"t1", "a"}, {"t2", "b"}, {"t3", "c"}};
  auto next = NextCursor(rows, 2, "b", position);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_TRUE(next.has_value());
  auto decoded = DecodeCursor(*next, "b");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, (std::vector<std::string>{"t2", "b"}));
  std::vector<Row> last = {{"t1", "a"}, {"t2", "b"}};
  EXPECT_FALSE(NextCursor(last, 2, "b", position).has_value());
  EXPECT_EQ(last.size(), 2u);
}

}  // namespace
}  // namespace trellis::platform::rest
