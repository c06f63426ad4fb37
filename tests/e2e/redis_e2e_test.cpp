// The distributed shape end to end: two Trellis processes' worth of product (two servers, one
// PostgreSQL database, one real redis-server) with the cache, the rate limits and the session
// revocation list and refresh-token families in Redis. What one process does, the other sees: a
// sign-out is refused by the other within a second, a refresh token rotated at one and reused at
// the other revokes its family, a write invalidates the other's cached page at once, a user's rate
// limit is one count over both, and a warm cached read costs one Redis round trip.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "platform/ports/run_sync.hpp"
#include "services/identity/app/oidc_issuer.hpp"
#include "tests/e2e/api_client.hpp"
#include "tests/e2e/builtin_tokens.hpp"
#include "tests/e2e/postgres_backend.hpp"
#include "tests/e2e/product_server.hpp"
#include "tests/support/redis_server.hpp"

namespace trellis::tests::e2e {
namespace {

namespace json = boost::json;
using platform::ports::RunSync;

// The value of a metric line `name{labels} value` in a Prometheus text page; -1 when absent.
double Metric(const std::string& page, const std::string& series) {
  const auto at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + series.size() + 2));
}

class RedisE2e : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = support::RedisServer::Start().release();
    postgres_ = new PostgresBackend();
  }
  static void TearDownTestSuite() {
    delete postgres_;
    delete redis_;
  }

  // One "process": a product and server on the shared database and Redis. Both answer as the
  // same issuer URL (the first one's), as nodes behind one load balancer do.
  std::unique_ptr<ProductServer> Node(const std::string& issuer,
                                      const std::string& user_limit = "6000/m",
                                      bool fail_closed = false) {
    return std::make_unique<ProductServer>([&](cmd::ProductSettings& s) {
      postgres_->Apply(s);
      s.clients.push_back({kE2eClientId, {kE2eRedirect}, {kE2eRedirect}});
      if (!issuer.empty()) s.issuer_url = issuer;
      s.cache.backend = cmd::ProductSettings::Cache::Backend::kRedis;
      s.shared = cmd::ProductSettings::Shared::kRedis;
      s.redis.address = "127.0.0.1:" + std::to_string(redis_->Port());
      s.rate_limits.user = user_limit;
      s.rate_limits.fail_closed = fail_closed;
    });
  }

  // The token endpoint of `node`, as a client calls it (form-encoded).
  static ApiResponse TokenCall(ProductServer& node, const std::string& form) {
    Headers h;
    h.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return ApiClient(node.Port()).Send("POST", "/oidc/token", h, form);
  }

  struct Tokens {
    std::string access;
    std::string refresh;
    std::string cookie;
  };
  static Tokens TokensFrom(const ApiResponse& r) {
    const auto o = json::parse(r.body).as_object();
    Tokens t;
    t.access = std::string(o.at("access_token").as_string());
    t.refresh = std::string(o.at("refresh_token").as_string());
    return t;
  }

  // Signs a user up at `node`'s issuer and exchanges the code over HTTP: the exchange writes
  // the refresh token to the Redis token store, whose connections belong to the server's loops.
  static Tokens SignUpTokens(ProductServer& node, const std::string& email) {
    auto& issuer = node.Product().Issuer();
    auto signed_up = RunSync(issuer.SignUp(email, "Test User", kE2ePassword, "e2e-" + email));
    if (!signed_up) throw std::runtime_error("sign-up: " + signed_up.error().message);
    const PendingCode c = CodeFor(issuer, node.Ids(), signed_up->session);
    auto r = TokenCall(
        node, "grant_type=authorization_code&client_id=" + std::string(kE2eClientId) +
                  "&code=" + c.code +
                  "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&code_verifier=" + c.verifier);
    if (r.status != 200) throw std::runtime_error("token: " + r.body);
    Tokens t = TokensFrom(r);
    t.cookie = signed_up->cookie;
    return t;
  }
  static E2eUser SignUp(ProductServer& node, const std::string& email) {
    const Tokens t = SignUpTokens(node, email);
    return E2eUser{t.access, t.cookie};
  }
  static ApiResponse RefreshAt(ProductServer& node, const std::string& refresh_token) {
    return TokenCall(node, "grant_type=refresh_token&client_id=" + std::string(kE2eClientId) +
                               "&refresh_token=" + refresh_token);
  }
  // Refresh tokens kept in Redis now.
  static int RefreshTokensInRedis() {
    return std::stoi(
        redis_->Cli("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "trellis:rt:t:*"));
  }

  static ApiResponse Call(ProductServer& node, const std::string& method, const std::string& path,
                          const std::string& token, const std::string& body = {}) {
    Headers h;
    h.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    return ApiClient(node.Port()).Send(method, path, h, body);
  }
  static std::string Id(const ApiResponse& r) {
    return std::string(json::parse(r.body).as_object().at("id").as_string());
  }

  static support::RedisServer* redis_;
  static PostgresBackend* postgres_;
};
support::RedisServer* RedisE2e::redis_ = nullptr;
PostgresBackend* RedisE2e::postgres_ = nullptr;

TEST_F(RedisE2e, ASignOutInOneProcessIsRefusedByTheOtherWithinASecond) {
  auto a = Node("");
  auto b = Node("http://127.0.0.1:" + std::to_string(a->Port()));
  const E2eUser user = SignUp(*a, "out-" + a->Ids().Next() + "@example.com");
  ASSERT_EQ(Call(*b, "GET", "/api/v1/me", user.access_token).status, 200);

  // Sign out at A, as the browser does (the session cookie to end-session).
  Headers cookie;
  cookie.emplace_back("Cookie", "trellis_session=" + user.session_cookie);
  auto out = ApiClient(a->Port()).Send("GET", "/oidc/end-session", cookie);
  ASSERT_LT(out.status, 400) << out.body;
  const auto ended = std::chrono::steady_clock::now();
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() - ended < std::chrono::seconds(3)) {
    status = Call(*b, "GET", "/api/v1/me", user.access_token).status;
    if (status == 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - ended);
  EXPECT_EQ(status, 401);
  EXPECT_LT(took, std::chrono::seconds(1));
  std::printf("sign-out at A refused at B after %lld ms\n", static_cast<long long>(took.count()));
}

TEST_F(RedisE2e, RefreshTokenFamiliesLiveInRedisAndAReuseAtEitherProcessRevokesTheFamily) {
  auto a = Node("");
  auto b = Node("http://127.0.0.1:" + std::to_string(a->Port()));
  const int before = RefreshTokensInRedis();
  const Tokens first = SignUpTokens(*a, "family-" + a->Ids().Next() + "@example.com");
  EXPECT_EQ(RefreshTokensInRedis(), before + 1) << "the family's first token is in Redis";

  // Rotated at B: the token A issued is B's to rotate.
  auto rotated = RefreshAt(*b, first.refresh);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const Tokens second = TokensFrom(rotated);
  EXPECT_NE(second.refresh, first.refresh);
  EXPECT_EQ(RefreshTokensInRedis(), before + 2) << "the used token stays to catch its reuse";
  ASSERT_EQ(Call(*a, "GET", "/api/v1/me", second.access).status, 200);

  // The rotated-away token comes back at A: reuse. The family is revoked everywhere, and the
  // session's access tokens are refused by both processes within a second.
  auto reused = RefreshAt(*a, first.refresh);
  EXPECT_EQ(reused.status, 400);
  EXPECT_NE(reused.body.find("invalid_grant"), std::string::npos) << reused.body;
  auto after = RefreshAt(*b, second.refresh);
  EXPECT_EQ(after.status, 400) << "the legitimate holder's current token dies with the family";
  EXPECT_NE(after.body.find("revoked"), std::string::npos) << after.body;
  const auto since = std::chrono::steady_clock::now();
  int status_a = 200;
  int status_b = 200;
  while ((status_a == 200 || status_b == 200) &&
         std::chrono::steady_clock::now() - since < std::chrono::seconds(3)) {
    status_a = Call(*a, "GET", "/api/v1/me", second.access).status;
    status_b = Call(*b, "GET", "/api/v1/me", second.access).status;
    if (status_a == 200 || status_b == 200)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - since);
  EXPECT_EQ(status_a, 401);
  EXPECT_EQ(status_b, 401);
  EXPECT_LT(took, std::chrono::seconds(1));
  std::printf("reuse at A: the family's access token refused by both after %lld ms\n",
              static_cast<long long>(took.count()));
}

TEST_F(RedisE2e, ASignOutEndsTheRefreshTokensInRedisToo) {
  auto a = Node("");
  auto b = Node("http://127.0.0.1:" + std::to_string(a->Port()));
  const Tokens t = SignUpTokens(*a, "signout-" + a->Ids().Next() + "@example.com");
  Headers cookie;
  cookie.emplace_back("Cookie", "trellis_session=" + t.cookie);
  auto out = ApiClient(a->Port()).Send("GET", "/oidc/end-session", cookie);
  ASSERT_LT(out.status, 400) << out.body;
  auto refused = RefreshAt(*b, t.refresh);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("revoked"), std::string::npos) << refused.body;
}

TEST_F(RedisE2e, AWriteInOneProcessIsSeenByTheOthersCachedReadsAtOnce) {
  auto a = Node("");
  auto b = Node("http://127.0.0.1:" + std::to_string(a->Port()));
  const E2eUser owner = SignUp(*a, "owner-" + a->Ids().Next() + "@example.com");
  const std::string slug = "org-" + a->Ids().Next().substr(24);
  auto org = Call(*a, "POST", "/api/v1/orgs", owner.access_token,
                  R"({"name":"Org","slug":")" + slug + R"("})");
  ASSERT_EQ(org.status, 201) << org.body;
  const std::string base = "/api/v1/orgs/" + Id(org);
  auto project = Call(*a, "POST", base + "/projects", owner.access_token, R"({"name":"P"})");
  ASSERT_EQ(project.status, 201) << project.body;
  const std::string tasks = base + "/projects/" + Id(project) + "/tasks";
  ASSERT_EQ(Call(*a, "POST", tasks, owner.access_token, R"({"title":"one"})").status, 201);

  // B fills the cache, then serves from it with one Redis round trip per request. The writes'
  // events also invalidate once more when relayed (the consumer group "cache", a few ms later,
  // in whichever process relays them): warm up until ten reads in a row fill nothing.
  const std::string fills = "trellis_cache_fills_total{cache=\"shared\"}";
  int quiet = 0;
  const auto settle_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (quiet < 10 && std::chrono::steady_clock::now() < settle_until) {
    const double before_fill = Metric(b->Registry().Render(), fills);
    ASSERT_EQ(Call(*b, "GET", tasks + "?limit=50", owner.access_token).status, 200);
    quiet = Metric(b->Registry().Render(), fills) == before_fill ? quiet + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(quiet, 10) << "B's cache did not settle";
  const std::string before = b->Registry().Render();
  constexpr int kWarm = 50;
  for (int i = 0; i < kWarm; ++i) {
    auto r = Call(*b, "GET", tasks + "?limit=50", owner.access_token);
    ASSERT_EQ(r.status, 200);
    ASSERT_NE(r.body.find("\"one\""), std::string::npos);
  }
  const std::string after = b->Registry().Render();
  const std::string hits = "trellis_cache_hits_total{cache=\"shared\"}";
  const std::string trips = "trellis_cache_round_trips{cache=\"shared\"}";
  EXPECT_GE(Metric(after, hits) - Metric(before, hits), 2.0 * kWarm) << "role and page hit";
  const double cache_trips = Metric(after, trips) - Metric(before, trips);
  const std::string all = "trellis_redis_round_trips_total{client=\"main\"}";
  const double all_trips = Metric(after, all) - Metric(before, all);
  std::printf(
      "Redis round trips for %d warm task lists: cache reads %.0f (%.2f per request); all calls "
      "%.0f (%.2f per request, with the rate limiter's)\n",
      kWarm, cache_trips, cache_trips / kWarm, all_trips, all_trips / kWarm);
  EXPECT_LE(cache_trips, 1.0 * kWarm) << "at most one cache round trip per request";

  // A writes; B's very next read shows it.
  ASSERT_EQ(Call(*a, "POST", tasks, owner.access_token, R"({"title":"two"})").status, 201);
  auto fresh = Call(*b, "GET", tasks + "?limit=50", owner.access_token);
  ASSERT_EQ(fresh.status, 200);
  EXPECT_NE(fresh.body.find("\"two\""), std::string::npos) << fresh.body;
}

TEST_F(RedisE2e, AUsersRateLimitIsOneCountOverBothProcesses) {
  auto a = Node("", "4/m");
  auto b = Node("http://127.0.0.1:" + std::to_string(a->Port()), "4/m");
  const E2eUser user = SignUp(*a, "busy-" + a->Ids().Next() + "@example.com");
  EXPECT_EQ(Call(*a, "GET", "/api/v1/me", user.access_token).status, 200);
  EXPECT_EQ(Call(*b, "GET", "/api/v1/me", user.access_token).status, 200);
  EXPECT_EQ(Call(*a, "GET", "/api/v1/me", user.access_token).status, 200);
  auto last = Call(*b, "GET", "/api/v1/me", user.access_token);
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.Header("RateLimit-Remaining"), "0");
  auto refused = Call(*a, "GET", "/api/v1/me", user.access_token);
  EXPECT_EQ(refused.status, 429) << "the fifth call in a minute, whichever process takes it";
  EXPECT_EQ(refused.Header("Retry-After"), "15");
}

TEST_F(RedisE2e, AFrozenRedisCostsARequestABoundedWaitAndTheLimiterDoesWhatTheConfigSays) {
  auto open = Node("");
  auto closed = Node("http://127.0.0.1:" + std::to_string(open->Port()), "6000/m", true);
  const E2eUser owner = SignUp(*open, "frozen-" + open->Ids().Next() + "@example.com");
  const std::string slug = "org-" + open->Ids().Next().substr(24);
  auto org = Call(*open, "POST", "/api/v1/orgs", owner.access_token,
                  R"({"name":"Org","slug":")" + slug + R"("})");
  ASSERT_EQ(org.status, 201) << org.body;
  auto project = Call(*open, "POST", "/api/v1/orgs/" + Id(org) + "/projects", owner.access_token,
                      R"({"name":"P"})");
  ASSERT_EQ(project.status, 201);
  const std::string tasks =
      "/api/v1/orgs/" + Id(org) + "/projects/" + Id(project) + "/tasks?limit=50";
  ASSERT_EQ(Call(*open, "GET", tasks, owner.access_token).status, 200);  // cached

  redis_->Freeze();
  auto timed = [&](ProductServer& node, const std::string& path) {
    const auto start = std::chrono::steady_clock::now();
    auto r = Call(node, "GET", path, owner.access_token);
    return std::make_pair(r, std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - start));
  };
  std::chrono::milliseconds worst{0};
  for (int i = 0; i < 5; ++i) {
    auto [served, took] = timed(*open, tasks);
    EXPECT_EQ(served.status, 200) << "fail open: served, from the database";
    EXPECT_EQ(served.Header("RateLimit-Limit"), "") << "no limit could be decided";
    worst = std::max(worst, took);
    auto [refused, took_closed] = timed(*closed, "/api/v1/me");
    EXPECT_EQ(refused.status, 503) << "fail closed: refused";
    EXPECT_EQ(refused.Header("Retry-After"), "1");
    worst = std::max(worst, took_closed);
  }
  redis_->Thaw();
  std::printf("worst request while Redis was frozen: %lld ms (redis.call_timeout_ms 250)\n",
              static_cast<long long>(worst.count()));
  EXPECT_LT(worst, std::chrono::milliseconds(2000)) << "bounded by the call timeout, not 30 s";

  // Thawed: both serve with limits again within a few seconds (reconnect backoff).
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    status = Call(*closed, "GET", "/api/v1/me", owner.access_token).status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  auto limited = Call(*open, "GET", tasks, owner.access_token);
  EXPECT_EQ(limited.status, 200);
}

}  // namespace
}  // namespace trellis::tests::e2e
