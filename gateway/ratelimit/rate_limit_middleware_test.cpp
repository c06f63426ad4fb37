// The gateway's rate limits over the in-process GCRA limiter (the Redis limiter passes the same
// port contract): headers on every limited answer, 429 with Retry-After past the limit, which
// key each caller is counted under, plans per org, fail open / fail closed, and the settings.
#include "gateway/ratelimit/rate_limit_middleware.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "adapters/memory/memory_rate_limiter.hpp"
#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"

namespace trellis::gateway::ratelimit {
namespace {

namespace asio = boost::asio;
namespace core = platform::core;
namespace http = platform::http;
using platform::ports::RateDecision;
using platform::ports::RateLimit;
using platform::ports::RunSync;

RateLimit Limit(std::int64_t n, std::chrono::milliseconds period = std::chrono::seconds(60)) {
  RateLimit l;
  l.limit = n;
  l.period = period;
  return l;
}

// A limiter that cannot answer (Redis unreachable or frozen).
class DownLimiter final : public platform::ports::RateLimiter {
 public:
  asio::awaitable<core::Result<RateDecision>> Acquire(std::string /*key*/, RateLimit /*limit*/,
                                                      core::Clock::MonoTime /*deadline*/) override {
    co_return core::Fail(core::ErrorCode::kUnavailable, "limiter down", "connection refused");
  }
};

std::string HeaderOf(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (http::EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

class RateLimitTest : public ::testing::Test {
 protected:
  RateLimitSettings Settings() {
    RateLimitSettings s;
    s.anonymous = Limit(2);
    s.user = Limit(3);
    s.api_key = Limit(4);
    s.plans["standard"] = Limit(5);
    s.plans["tiny"] = Limit(1);
    s.org_plans["org-tiny"] = "tiny";
    return s;
  }

  http::Response Call(RateLimitMiddleware& m, const std::string& path,
                      std::shared_ptr<const core::Principal> who = nullptr,
                      const std::string& org = "", http::Method method = http::Method::kGet) {
    http::Request req;
    req.method = method;
    req.path = path;
    req.ctx.remote_address = "10.0.0.1";
    req.ctx.deadline = core::Clock::MonoTime::max();
    req.ctx.principal = std::move(who);
    if (!org.empty()) req.params.emplace_back("org", org);
    http::MiddlewareChain chain;
    chain.push_back(std::shared_ptr<http::Middleware>(&m, [](http::Middleware*) {}));
    http::Handler handler = [this](http::Request&) -> asio::awaitable<http::Response> {
      ++served_;
      co_return http::Response::Json(200, "{}");
    };
    return RunSync(http::RunChain(chain, handler, req));
  }

  static std::shared_ptr<const core::Principal> User(std::string id) {
    auto p = std::make_shared<core::Principal>();
    p->user_id = std::move(id);
    return p;
  }
  static std::shared_ptr<const core::Principal> Key(std::string id) {
    auto p = std::make_shared<core::Principal>();
    p->kind = core::Principal::Kind::kApiKey;
    p->api_key_id = std::move(id);
    return p;
  }

  core::ManualClock clock_;
  platform::observe::Registry registry_;
  adapters::memory::MemoryRateLimiter limiter_{adapters::memory::RateLimiterSettings{}, clock_};
  int served_ = 0;
};

TEST_F(RateLimitTest, EveryAnswerSaysWhatIsLeftAndThePastLimitOneIs429WithRetryAfter) {
  RateLimitMiddleware m(Settings(), limiter_, registry_);
  for (int i = 0; i < 3; ++i) {
    auto r = Call(m, "/api/v1/me", User("u1"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(r, "RateLimit-Limit"), "3");
    EXPECT_EQ(HeaderOf(r, "RateLimit-Remaining"), std::to_string(2 - i));
    EXPECT_FALSE(HeaderOf(r, "RateLimit-Reset").empty());
  }
  auto refused = Call(m, "/api/v1/me", User("u1"));
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.content_type, "application/problem+json");
  EXPECT_NE(refused.body.find("rate-limited"), std::string::npos) << refused.body;
  EXPECT_EQ(HeaderOf(refused, "Retry-After"), "20") << "one request per 20 s at 3/min";
  EXPECT_EQ(HeaderOf(refused, "RateLimit-Remaining"), "0");
  EXPECT_EQ(served_, 3) << "the refused request never reached the handler";
  EXPECT_EQ(Call(m, "/api/v1/me", User("u2")).status, 200) << "another user has their own";
  clock_.Advance(std::chrono::seconds(20));
  EXPECT_EQ(Call(m, "/api/v1/me", User("u1")).status, 200) << "after Retry-After";
}

TEST_F(RateLimitTest, KeysAndAnonymousCallersAreCountedApartAndOthersPathsNotAtAll) {
  RateLimitMiddleware m(Settings(), limiter_, registry_);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Call(m, "/api/v1/me", Key("k1")).status, 200);
  EXPECT_EQ(Call(m, "/api/v1/me", Key("k1")).status, 429);
  // Anonymous: the issuer's endpoints, per client address.
  EXPECT_EQ(Call(m, "/oidc/token", nullptr, "", http::Method::kPost).status, 200);
  EXPECT_EQ(Call(m, "/oidc/token", nullptr, "", http::Method::kPost).status, 200);
  EXPECT_EQ(Call(m, "/oidc/token", nullptr, "", http::Method::kPost).status, 429);
  for (int i = 0; i < 10; ++i) {
    auto r = Call(m, "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(r, "RateLimit-Limit"), "");
    EXPECT_EQ(Call(m, "/api/v1/me", nullptr, "", http::Method::kOptions).status, 200);
  }
}

TEST_F(RateLimitTest, AnOrgIsLimitedByItsPlanOverAllItsCallers) {
  RateLimitMiddleware m(Settings(), limiter_, registry_);
  // org-tiny's plan allows 1/min whoever calls.
  EXPECT_EQ(Call(m, "/api/v1/orgs/org-tiny/projects", User("a"), "org-tiny").status, 200);
  auto second = Call(m, "/api/v1/orgs/org-tiny/projects", User("b"), "org-tiny");
  EXPECT_EQ(second.status, 429);
  EXPECT_EQ(HeaderOf(second, "RateLimit-Limit"), "1") << "the org's limit was the tight one";
  // Another org is on the default plan (5/min), and user b still has calls left elsewhere.
  auto other = Call(m, "/api/v1/orgs/org-2/projects", User("b"), "org-2");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(HeaderOf(other, "RateLimit-Remaining"), "1") << "b's own limit (3/min, 2 used)";
}

TEST_F(RateLimitTest, WhenTheLimiterFailsTheConfigurationDecides) {
  DownLimiter down;
  auto open = Settings();
  open.on_error = RateLimitSettings::OnError::kFailOpen;
  RateLimitMiddleware fail_open(open, down, registry_);
  auto served = Call(fail_open, "/api/v1/me", User("u1"));
  EXPECT_EQ(served.status, 200);
  EXPECT_EQ(HeaderOf(served, "RateLimit-Limit"), "") << "nothing is known to report";

  auto closed = Settings();
  closed.on_error = RateLimitSettings::OnError::kFailClosed;
  RateLimitMiddleware fail_closed(closed, down, registry_);
  auto refused = Call(fail_closed, "/api/v1/me", User("u1"));
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(HeaderOf(refused, "Retry-After"), "1");
  EXPECT_EQ(refused.body.find("connection refused"), std::string::npos) << "no internals leak";
  EXPECT_EQ(served_, 1);
  const std::string metrics = registry_.Render();
  EXPECT_NE(metrics.find("trellis_rate_limiter_errors_total{outcome=\"served\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("trellis_rate_limiter_errors_total{outcome=\"refused\"} 1"),
            std::string::npos);
}

TEST(RateLimitSettingsTest, LimitsParseAndPlansMustExist) {
  auto l = ParseRateLimit("600/m");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->limit, 600);
  EXPECT_EQ(l->period, std::chrono::minutes(1));
  EXPECT_EQ(ParseRateLimit("20/s")->period, std::chrono::seconds(1));
  EXPECT_EQ(ParseRateLimit("5/h")->period, std::chrono::hours(1));
  for (const char* bad : {"", "600", "0/m", "-1/m", "10/d", "x/m", "10/", "10/mm"}) {
    EXPECT_FALSE(ParseRateLimit(bad)) << bad;
  }
  RateLimitSettings s;
  s.anonymous = Limit(1);
  s.user = Limit(1);
  s.api_key = Limit(1);
  EXPECT_FALSE(RateLimitMiddleware::Validate(s)) << "no plan for the default";
  s.plans["standard"] = Limit(1);
  EXPECT_TRUE(RateLimitMiddleware::Validate(s));
  s.org_plans["o"] = "gold";
  EXPECT_FALSE(RateLimitMiddleware::Validate(s)) << "an org on an unknown plan";
}

}  // namespace
}  // namespace trellis::gateway::ratelimit
