#include "platform/http/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace trellis::platform::http {
namespace {

// Runs a handler to completion on a private io_context.
Response RunNow(const Handler& handler, Request& req) {
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, handler(req), boost::asio::use_future);
  io.run();
  return future.get();
}

using Params = std::vector<std::pair<std::string_view, std::string_view>>;

Handler Named(std::string name) {
  return
      [name](Request&) -> boost::asio::awaitable<Response> { co_return Response::Text(200, name); };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Method::kGet, "/orgs", Named("list"));
    router_.Add(Method::kPost, "/orgs", Named("create"));
    router_.Add(Method::kGet, "/orgs/{org}", Named("get"));
    router_.Add(Method::kGet, "/orgs/{org}/projects/{project}", Named("project"));
    router_.Add(Method::kGet, "/orgs/mine", Named("mine"));
    router_.Add(Method::kDelete, "/orgs/{org}/members/{user}", Named("remove"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesStaticRoutesByMethod) {
  Params p;
  auto m = router_.Find(Method::kGet, "/orgs", p);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/orgs");
  EXPECT_EQ(router_.Routes()[static_cast<std::size_t>(m.route_id)].method, Method::kGet);
  auto post = router_.Find(Method::kPost, "/orgs", p);
  ASSERT_NE(post.handler, nullptr);
  EXPECT_NE(post.route_id, m.route_id);
}

TEST_F(RouterTest, ExtractsPathParameters) {
  Params p;
  auto m = router_.Find(Method::kGet, "/orgs/acme/projects/42", p);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/orgs/{org}/projects/{project}");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "org");
  EXPECT_EQ(p[0].second, "acme");
  EXPECT_EQ(p[1].first, "project");
  EXPECT_EQ(p[1].second, "42");
}

TEST_F(RouterTest, StaticSegmentWinsOverParameter) {
  Params p;
  auto m = router_.Find(Method::kGet, "/orgs/mine", p);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/orgs/mine");
  EXPECT_TRUE(p.empty());
}

TEST_F(RouterTest, BacktracksWhenStaticBranchDeadEnds) {
  Params p;
  // "mine" is static but has no /projects child: the parameter branch must match.
  auto m = router_.Find(Method::kGet, "/orgs/mine/projects/1", p);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/orgs/{org}/projects/{project}");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].second, "mine");
}

TEST_F(RouterTest, UnknownPathIsNotMatched) {
  Params p;
  for (const char* path : {"/", "/nope", "/orgs/acme/projects", "/orgs//projects/1", "orgs",
                           "/orgs/acme/extra/deep"}) {
    auto m = router_.Find(Method::kGet, path, p);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_FALSE(m.path_matched) << path;
  }
}

TEST_F(RouterTest, WrongMethodGivesAllow) {
  Params p;
  auto m = router_.Find(Method::kPut, "/orgs", p);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_TRUE(m.path_matched);
  EXPECT_EQ(m.allow, "GET, HEAD, POST, OPTIONS");
  auto d = router_.Find(Method::kGet, "/orgs/a/members/b", p);
  EXPECT_EQ(d.allow, "DELETE, OPTIONS");
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  Params p;
  auto m = router_.Find(Method::kHead, "/orgs/acme", p);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.pattern, "/orgs/{org}");
}

TEST_F(RouterTest, RejectsBadPatternsAndDuplicates) {
  EXPECT_THROW(router_.Add(Method::kGet, "orgs", Named("x")), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::kGet, "/orgs", Named("x")), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::kGet, "/orgs/{other}/x", Named("x")), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::kGet, "/a{b}", Named("x")), std::invalid_argument);
}

TEST_F(RouterTest, FallbackIsKeptApartFromTheRoutes) {
  EXPECT_EQ(router_.Fallback(), nullptr);
  const auto routes = router_.Routes().size();
  router_.SetFallback(Named("fallback"));
  ASSERT_NE(router_.Fallback(), nullptr);
  EXPECT_EQ(router_.Routes().size(), routes);
  // Find still reports no match: the server decides when the fallback answers.
  Params p;
  const auto m = router_.Find(Method::kGet, "/nowhere", p);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_FALSE(m.path_matched);
  Request req;
  const Response r = RunNow(*router_.Fallback(), req);
  EXPECT_EQ(r.body, "fallback");
}

TEST(RequestTest, HeadersAndQuery) {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  r.query = "a=1&b=hello%20world&c&d=x+y&bad=%zz";
  EXPECT_EQ(r.HeaderValue("content-type"), "application/json");
  EXPECT_EQ(r.HeaderValue("X-A"), "1");
  EXPECT_FALSE(r.FindHeader("missing"));
  EXPECT_EQ(r.QueryParam("a"), "1");
  EXPECT_EQ(r.QueryParam("b"), "hello world");
  EXPECT_EQ(r.QueryParam("c"), "");
  EXPECT_EQ(r.QueryParam("d"), "x y");
  EXPECT_EQ(r.QueryParam("bad"), "%zz");
  EXPECT_FALSE(r.QueryParam("z"));
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.QueryPairs(),
            (Pairs{{"a", "1"}, {"b", "hello world"}, {"c", ""}, {"d", "x y"}, {"bad", "%zz"}}));
  r.query = "s=1&&s=2&";
  EXPECT_EQ(r.QueryPairs(), (Pairs{{"s", "1"}, {"s", "2"}}));
}

}  // namespace
}  // namespace trellis::platform::http
