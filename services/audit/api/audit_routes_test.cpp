#include "services/audit/api/audit_routes.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "platform/http/middleware.hpp"
#include "services/audit/testing/audit_test_support.hpp"

namespace trellis::audit::api {
namespace {

namespace asio = boost::asio;
namespace http = platform::http;
namespace json = boost::json;
using platform::core::Principal;
using platform::core::Role;
using testing::MakeEvent;
using testing::RunSync;

// Sets the principal the test chose, as the gateway's authentication would.
class TestAuth final : public http::Middleware {
 public:
  explicit TestAuth(std::shared_ptr<const Principal>& who) : who_(who) {}
  asio::awaitable<http::Response> Handle(http::Request& req, http::Next next) override {
    req.ctx.principal = who_;
    co_return co_await next(req);
  }

 private:
  std::shared_ptr<const Principal>& who_;
};

class AuditRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    identity_.Add("org-a", "admin", Role::kAdmin);
    identity_.Add("org-a", "member", Role::kMember);
    identity_.Add("org-b", "admin-b", Role::kAdmin);
    AddAuditRoutes(router_, app_);
    chain_.push_back(std::make_shared<TestAuth>(who_));
    As("admin");
    // 2026-11-24T10:00:00.000Z is 1795514400000.
    const std::int64_t t0 = 1'795'514'400'000;
    Project(MakeEvent("e1", "org-a", 1, "work.task.created", "u1", t0));
    Project(MakeEvent("e2", "org-a", 2, "work.task.updated", "u2", t0 + 60'000));
    Project(MakeEvent("e3", "org-b", 3, "work.task.created", "u1", t0 + 120'000));
    Project(MakeEvent("e4", "org-a", 4, "identity.member.invited", "u1", t0 + 180'000));
  }
  void Project(const platform::events::DomainEvent& e) { ASSERT_TRUE(RunSync(app_.Project(e))); }
  void As(const std::string& user) {
    auto p = std::make_shared<Principal>();
    p->user_id = user;
    who_ = p;
  }

  struct Reply {
    int status = 0;
    json::value body;
  };
  Reply Get(const std::string& target) {
    target_ = target;
    http::Request req;
    req.method = http::Method::kGet;
    req.target = target_;
    req.ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    const auto q = target_.find('?');
    req.path = std::string_view(target_).substr(0, q);
    if (q != std::string::npos) req.query = std::string_view(target_).substr(q + 1);
    auto match = router_.Find(http::Method::kGet, req.path, req.params);
    EXPECT_NE(match.handler, nullptr) << target;
    if (!match.handler) return {};
    auto resp = RunSync(http::RunChain(chain_, *match.handler, req));
    Reply r;
    r.status = resp.status;
    r.body = json::parse(resp.body);
    return r;
  }
  static std::vector<std::string> Ids(const Reply& r) {
    std::vector<std::string> ids;
    for (const auto& item : r.body.at("items").as_array()) {
      ids.emplace_back(item.at("id").as_string());
    }
    return ids;
  }
  static std::vector<std::string> Pointers(const Reply& r) {
    std::vector<std::string> out;
    for (const auto& e : r.body.at("errors").as_array()) {
      out.emplace_back(e.at("pointer").as_string());
    }
    return out;
  }

  testing::AuditDb db_;
  testing::FakeIdentity identity_;
  app::AuditApp app_{db_.Store(), identity_};
  http::Router router_;
  http::MiddlewareChain chain_;
  std::shared_ptr<const Principal> who_;
  std::string target_;
};

TEST_F(AuditRoutesTest, ListsTheOrgsEventsNewestFirst) {
  auto r = Get("/api/v1/orgs/org-a/audit-events");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"e4", "e2", "e1"}));
  const auto& first = r.body.at("items").at(0);
  EXPECT_EQ(first.at("action").as_string(), "identity.member.invited");
  EXPECT_EQ(first.at("actor_id").as_string(), "u1");
  EXPECT_EQ(first.at("subject_id").as_string(), "subject-e4");
  EXPECT_EQ(first.at("occurred_at").as_string(), "2026-11-24T10:03:00.000Z");
  EXPECT_EQ(first.at("payload").at("n").as_int64(), 4);
  EXPECT_TRUE(r.body.at("next_cursor").is_null());
}

TEST_F(AuditRoutesTest, Filters) {
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-a/audit-events?actor=u1")),
            (std::vector<std::string>{"e4", "e1"}));
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-a/audit-events?action=work.task.updated")),
            (std::vector<std::string>{"e2"}));
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-a/audit-events?since=2026-11-24T10:01:00Z&until=2026-11-"
                    "24T10:03:00.000Z")),
            (std::vector<std::string>{"e2"}));
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-a/audit-events?since=2026-11-24T11:00:00%2B01:00")),
            (std::vector<std::string>{"e4", "e2", "e1"}));
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-a/audit-events?actor=")),  // empty: no filter
            (std::vector<std::string>{"e4", "e2", "e1"}));
}

TEST_F(AuditRoutesTest, PagesWithACursorBoundToTheFilters) {
  auto first = Get("/api/v1/orgs/org-a/audit-events?limit=2");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"e4", "e2"}));
  const std::string cursor(first.body.at("next_cursor").as_string());
  auto second = Get("/api/v1/orgs/org-a/audit-events?limit=2&cursor=" + cursor);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(Ids(second), (std::vector<std::string>{"e1"}));
  EXPECT_TRUE(second.body.at("next_cursor").is_null());
  // The same cursor with other filters is refused.
  EXPECT_EQ(Get("/api/v1/orgs/org-a/audit-events?actor=u1&cursor=" + cursor).status, 400);
  EXPECT_EQ(Get("/api/v1/orgs/org-a/audit-events?cursor=garbage").status, 400);
}

TEST_F(AuditRoutesTest, EachInvalidParameterIsOne422Entry) {
  auto bad_since = Get("/api/v1/orgs/org-a/audit-events?since=yesterday");
  EXPECT_EQ(bad_since.status, 422);
  EXPECT_EQ(Pointers(bad_since), (std::vector<std::string>{"/since"}));
  EXPECT_EQ(Pointers(Get("/api/v1/orgs/org-a/audit-events?until=2026-13-01T00:00:00Z")),
            (std::vector<std::string>{"/until"}));
  EXPECT_EQ(Pointers(Get("/api/v1/orgs/org-a/audit-events?action=Not%20A%20Type")),
            (std::vector<std::string>{"/action"}));
  EXPECT_EQ(Pointers(Get("/api/v1/orgs/org-a/audit-events?actor=" + std::string(101, 'x'))),
            (std::vector<std::string>{"/actor"}));
  EXPECT_EQ(Pointers(Get("/api/v1/orgs/org-a/audit-events?limit=0")),
            (std::vector<std::string>{"/limit"}));
  EXPECT_EQ(Pointers(Get("/api/v1/orgs/org-a/audit-events?since=2026-11-25T00:00:00Z&until="
                         "2026-11-24T00:00:00Z")),
            (std::vector<std::string>{"/until"}));
  auto all = Get("/api/v1/orgs/org-a/audit-events?since=x&until=y&action=A&limit=500");
  EXPECT_EQ(all.status, 422);
  EXPECT_EQ(Pointers(all), (std::vector<std::string>{"/action", "/since", "/until", "/limit"}));
}

TEST_F(AuditRoutesTest, WithoutAPrincipalIs401) {
  who_.reset();
  EXPECT_EQ(Get("/api/v1/orgs/org-a/audit-events").status, 401);
}

TEST_F(AuditRoutesTest, AMemberIs403) {
  As("member");
  auto r = Get("/api/v1/orgs/org-a/audit-events");
  EXPECT_EQ(r.status, 403);
}

TEST_F(AuditRoutesTest, AnotherOrgIs404) {
  As("admin-b");
  EXPECT_EQ(Get("/api/v1/orgs/org-a/audit-events").status, 404);
  As("admin");
  EXPECT_EQ(Get("/api/v1/orgs/org-b/audit-events").status, 404);  // cross-org probe
  EXPECT_EQ(Get("/api/v1/orgs/no-such-org/audit-events").status, 404);
  auto key = std::make_shared<Principal>();
  key->kind = Principal::Kind::kApiKey;
  key->api_key_id = "k1";
  key->api_key_org_id = "org-b";
  key->api_key_role = Role::kOwner;
  who_ = key;
  EXPECT_EQ(Get("/api/v1/orgs/org-a/audit-events").status, 404);
  EXPECT_EQ(Ids(Get("/api/v1/orgs/org-b/audit-events")), (std::vector<std::string>{"e3"}));
}

}  // namespace
}  // namespace trellis::audit::api
