// sort and filter query parameters, and the binding string.
#include "platform/rest/list_query.hpp"

#include <gtest/gtest.h>

#include <string>

namespace trellis::platform::rest {
namespace {

using core::ErrorCode;

http::Request WithQuery(const std::string& query) {
  http::Request req;
  req.query = query;
  return req;
}

const std::vector<std::string> kAllowed = {"created", "title"};

TEST(ListQueryTest, SortAbsentIsTheFallback) {
  const std::string q = "limit=5";
  auto s = ParseSort(WithQuery(q), kAllowed, Sort{"created", true});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->field, "created");
  EXPECT_TRUE(s->descending);
}

TEST(ListQueryTest, SortAscendingAndDescending) {
  const std::string asc = "sort=title";
  auto a = ParseSort(WithQuery(asc), kAllowed, Sort{"created", true});
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->field, "title");
  EXPECT_FALSE(a->descending);
  const std::string desc = "sort=-title";
  auto d = ParseSort(WithQuery(desc), kAllowed, Sort{});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->field, "title");
  EXPECT_TRUE(d->descending);
  EXPECT_EQ(SortText(*d), "-title");
  EXPECT_EQ(SortText(*a), "title");
}

TEST(ListQueryTest, UnknownSortIs422AtSlashSort) {
  for (const std::string q : {"sort=priority", "sort=", "sort=-", "sort=--title", "sort=%2Dx"}) {
    auto s = ParseSort(WithQuery(q), kAllowed, Sort{});
    ASSERT_FALSE(s.has_value()) << q;
    EXPECT_EQ(s.error().code, ErrorCode::kValidation);
    ASSERT_EQ(s.error().fields.size(), 1u);
    EXPECT_EQ(s.error().fields[0].pointer, "/sort");
    EXPECT_NE(s.error().fields[0].detail.find("created, title"), std::string::npos);
  }
}

TEST(ListQueryTest, FilterAbsentValidOrInvalid) {
  const std::vector<std::string> statuses = {"todo", "done"};
  const std::string none;
  auto absent = ParseFilter(WithQuery(none), "status", statuses);
  ASSERT_TRUE(absent.has_value());
  EXPECT_FALSE(absent->has_value());
  const std::string good = "status=done";
  auto ok = ParseFilter(WithQuery(good), "status", statuses);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(**ok, "done");
  const std::string bad = "status=lost";
  auto no = ParseFilter(WithQuery(bad), "status", statuses);
  ASSERT_FALSE(no.has_value());
  EXPECT_EQ(no.error().code, ErrorCode::kValidation);
  EXPECT_EQ(no.error().fields.at(0).pointer, "/status");
}

TEST(ListQueryTest, BindingEscapesSeparators) {
  EXPECT_EQ(Binding({{"status", "todo"}, {"sort", "-created"}}), "status=todo&sort=-created");
  // A value holding '&' cannot pose as two parameters.
  EXPECT_EQ(Binding({{"q", "a&b=c%"}}), "q=a%26b%3Dc%25");
  EXPECT_NE(Binding({{"a", "1&b=2"}}), Binding({{"a", "1"}, {"b", "2"}}));
}

}  // namespace
}  // namespace trellis::platform::rest
