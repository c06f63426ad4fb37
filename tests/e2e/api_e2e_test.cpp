// The product end to end, in one process: every context's real SQLite database in a temp
// data_dir, the built-in issuer minting real ES256 tokens, the gateway's authentication, the
// HTTP server on loopback, and a plain HTTP client. Every response under /api/ is validated
// against api/openapi.yaml, and the route table is compared with the spec.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "cmd/trellis/product.hpp"
#include "platform/auth/jwt.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/ports/run_sync.hpp"
#include "services/identity/app/oidc_issuer.hpp"
#include "tests/e2e/api_client.hpp"
#include "tests/e2e/builtin_tokens.hpp"
#include "tests/e2e/postgres_backend.hpp"
#include "tests/e2e/product_server.hpp"
#include "tests/support/openapi.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::tests::e2e {
namespace {

namespace json = boost::json;
namespace core = platform::core;
using platform::ports::RunSync;

using Engine = cmd::ProductSettings::Engine;

constexpr const char* kClientId = kE2eClientId;
constexpr const char* kRedirect = kE2eRedirect;

// Replaces {name} in a path template.
std::string Fill(std::string path, const std::map<std::string, std::string>& params) {
  for (const auto& [k, v] : params) {
    const std::string key = "{" + k + "}";
    for (auto at = path.find(key); at != std::string::npos; at = path.find(key)) {
      path.replace(at, key.size(), v);
    }
  }
  return path;
}

// One product and server for the whole suite; users and orgs are made per test.
class Stack {
 public:
  explicit Stack(Engine engine)
      : postgres_(engine == Engine::kPostgres ? std::make_unique<PostgresBackend>() : nullptr),
        server_([this](cmd::ProductSettings& s) {
          s.clients.push_back({kClientId, {kRedirect}, {kRedirect}});
          if (postgres_) postgres_->Apply(s);
        }),
        api_(server_.Port()) {
    auto spec = support::OpenApiSpec::Load(std::string(TRELLIS_SOURCE_DIR) + "/api/openapi.yaml");
    if (spec) spec_ = std::move(*spec);
  }

  // Signs a user up at the built-in issuer and runs the code + PKCE exchange: a real token.
  std::string NewUser(const std::string& email, const std::string& name = "Test User",
                      std::string* session_cookie = nullptr) {
    auto user = SignUpWithToken(server_.Product().Issuer(), server_.Ids(), email, name);
    if (session_cookie) *session_cookie = user.session_cookie;
    return user.access_token;
  }
  std::string TokenFor(const identity::app::BrowserSession& session) {
    return e2e::TokenFor(server_.Product().Issuer(), server_.Ids(), session);
  }

  // A request; responses to /api/ routes are checked against the spec's schemas.
  ApiResponse Call(const std::string& method, const std::string& tmpl,
                   const std::map<std::string, std::string>& params, const std::string& token,
                   const std::string& body = {}, Headers extra = {}) {
    Headers h = std::move(extra);
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    const std::string path = Fill(tmpl, params);
    ApiResponse r = api_.Send(method, path, h, body);
    if (spec_ && tmpl.starts_with("/api/")) {
      const std::string plain = tmpl.substr(0, tmpl.find('?'));
      auto valid =
          spec_->ValidateResponse(method, plain, r.status, r.Header("Content-Type"), r.body);
      std::string why = valid ? "" : valid.error().message;
      if (!valid) {
        for (const auto& f : valid.error().fields) why += "\n  " + f.pointer + ": " + f.detail;
      }
      EXPECT_TRUE(valid) << method << " " << path << " -> " << r.status << " " << r.body
                         << "\nnot as the spec says: " << why;
    }
    return r;
  }

  cmd::Product& Product() { return server_.Product(); }
  const platform::http::Router& Router() const { return server_.Router(); }
  const std::optional<support::OpenApiSpec>& Spec() const { return spec_; }
  std::uint16_t Port() const { return server_.Port(); }
  const ApiClient& Api() const { return api_; }

 private:
  std::unique_ptr<PostgresBackend> postgres_;  // the database, when on PostgreSQL
  ProductServer server_;
  std::optional<support::OpenApiSpec> spec_;
  ApiClient api_;
};

// Every case runs on both engines: the embedded shape (SQLite files) and PostgreSQL (one
// schema and role per context, row-level security), against one product each.
class ApiE2e : public ::testing::TestWithParam<Engine> {
 protected:
  static void TearDownTestSuite() { stacks_.clear(); }
  Stack& S() {
    auto& stack = stacks_[GetParam()];
    if (!stack) stack = std::make_unique<Stack>(GetParam());
    return *stack;
  }

  static std::string Unique(const std::string& stem) {
    static int n = 0;
    return stem + std::to_string(++n) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
  }
  static json::object Obj(const ApiResponse& r) { return json::parse(r.body).as_object(); }
  static std::string Str(const json::object& o, const char* key) {
    return std::string(o.at(key).as_string());
  }

  // An org owned by a fresh user: (token, org id).
  std::pair<std::string, std::string> OwnerAndOrg() {
    const std::string slug = Unique("org");
    std::string token = S().NewUser(slug + "@example.com", "Owner");
    auto r = S().Call("POST", "/api/v1/orgs", {}, token,
                      R"({"name":"Org )" + slug + R"(","slug":")" + slug + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return {token, Str(Obj(r), "id")};
  }

  // Invites `email` with `role` into org and signs that user up: the member's token.
  std::string Member(const std::string& owner, const std::string& org, const std::string& role) {
    const std::string email = Unique(role) + "@example.com";
    auto invited = S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, owner,
                            R"({"email":")" + email + R"(","role":")" + role + R"("})");
    EXPECT_EQ(invited.status, 201) << invited.body;
    return S().NewUser(email, role);
  }

  static std::map<Engine, std::unique_ptr<Stack>> stacks_;
};
std::map<Engine, std::unique_ptr<Stack>> ApiE2e::stacks_;

std::string EngineName(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::kPostgres ? "Postgres" : "Sqlite";
}

TEST_P(ApiE2e, RouteTableAndSpecAgree) {
  ASSERT_TRUE(S().Spec().has_value()) << "api/openapi.yaml must load";
  auto diff = support::CompareRoutes(*S().Spec(), S().Router().Routes(), {"/api/"});
  EXPECT_TRUE(diff.Empty()) << diff.ToString();
}

TEST_P(ApiE2e, MeAndOrgLifecycleWithETags) {
  const std::string slug = Unique("acme");
  const std::string token = S().NewUser(slug + "@example.com", "Ada");
  auto me = S().Call("GET", "/api/v1/me", {}, token);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(Str(Obj(me), "kind"), "user");

  auto created =
      S().Call("POST", "/api/v1/orgs", {}, token, R"({"name":"Acme","slug":")" + slug + R"("})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string org = Str(Obj(created), "id");
  EXPECT_EQ(created.Header("Location"), "/api/v1/orgs/" + org);
  EXPECT_EQ(Str(Obj(created), "role"), "owner");

  auto again =
      S().Call("POST", "/api/v1/orgs", {}, token, R"({"name":"Other","slug":")" + slug + R"("})");
  EXPECT_EQ(again.status, 409) << again.body;

  auto list = S().Call("GET", "/api/v1/orgs", {}, token);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Obj(list).at("items").as_array().size(), 1u);

  auto got = S().Call("GET", "/api/v1/orgs/{org}", {{"org", org}}, token);
  ASSERT_EQ(got.status, 200);
  const std::string etag = got.Header("ETag");
  ASSERT_FALSE(etag.empty());
  auto not_modified =
      S().Call("GET", "/api/v1/orgs/{org}", {{"org", org}}, token, "", {{"If-None-Match", etag}});
  EXPECT_EQ(not_modified.status, 304);

  auto no_precondition =
      S().Call("PATCH", "/api/v1/orgs/{org}", {{"org", org}}, token, R"({"name":"Acme 2"})");
  EXPECT_EQ(no_precondition.status, 428) << no_precondition.body;
  auto stale = S().Call("PATCH", "/api/v1/orgs/{org}", {{"org", org}}, token,
                        R"({"name":"Acme 2"})", {{"If-Match", "\"999\""}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  auto patched = S().Call("PATCH", "/api/v1/orgs/{org}", {{"org", org}}, token,
                          R"({"name":"Acme 2"})", {{"If-Match", etag}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_NE(patched.Header("ETag"), etag);
  EXPECT_EQ(Str(Obj(patched), "name"), "Acme 2");
  auto replayed_old = S().Call("PATCH", "/api/v1/orgs/{org}", {{"org", org}}, token,
                               R"({"name":"Acme 3"})", {{"If-Match", etag}});
  EXPECT_EQ(replayed_old.status, 412);
}

TEST_P(ApiE2e, InvalidBodiesAreRefusedWholeWithOneErrorPerField) {
  const std::string token = S().NewUser(Unique("v") + "@example.com");
  auto r = S().Call("POST", "/api/v1/orgs", {}, token,
                    R"({"name":"","slug":"NO","id":"x","role":"owner"})");
  ASSERT_EQ(r.status, 422) << r.body;
  auto errors = Obj(r).at("errors").as_array();
  std::set<std::string> pointers;
  for (const auto& e : errors) pointers.insert(std::string(e.at("pointer").as_string()));
  EXPECT_EQ(pointers, (std::set<std::string>{"/name", "/slug", "/id", "/role"}));
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs", {}, token).body.find("\"NO\""), std::string::npos);

  EXPECT_EQ(S().Call("POST", "/api/v1/orgs", {}, token, R"({"name":"a","slug":)").status, 400);
  EXPECT_EQ(
      S().Call("POST", "/api/v1/orgs", {}, token, "{\"name\":\"\xff\",\"slug\":\"abc\"}").status,
      400);
  auto wrong_type = S().Call("POST", "/api/v1/orgs", {}, token, R"({"name":5,"slug":"abcd"})");
  EXPECT_EQ(wrong_type.status, 422);
  auto too_long = S().Call("POST", "/api/v1/orgs", {}, token,
                           R"({"name":")" + std::string(101, 'x') + R"(","slug":"abcd"})");
  EXPECT_EQ(too_long.status, 422);
  auto text =
      S().Api().Send("POST", "/api/v1/orgs",
                     {{"Authorization", "Bearer " + token}, {"Content-Type", "text/plain"}}, "{}");
  EXPECT_EQ(text.status, 415);
}

TEST_P(ApiE2e, AuthenticationFailuresAre401) {
  auto none = S().Call("GET", "/api/v1/me", {}, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_FALSE(none.Header("WWW-Authenticate").empty());
  EXPECT_EQ(S().Call("GET", "/api/v1/me", {}, "not-a-jwt").status, 401);
  EXPECT_EQ(S().Call("GET", "/api/v1/me", {}, "trk_nope").status, 401);
  const std::string token = S().NewUser(Unique("t") + "@example.com");
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(S().Call("GET", "/api/v1/me", {}, flipped).status, 401);
  auto basic = S().Api().Send("GET", "/api/v1/me", {{"Authorization", "Basic abc"}});
  EXPECT_EQ(basic.status, 401);
}

TEST_P(ApiE2e, SigningOutRevokesTheSessionsAccessTokensWithinASecond) {
  std::string cookie;
  const std::string token = S().NewUser(Unique("out") + "@example.com", "Out", &cookie);
  const std::string other = S().NewUser(Unique("stay") + "@example.com");
  auto me = S().Call("GET", "/api/v1/me", {}, token);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_FALSE(me.Header("RateLimit-Limit").empty()) << "the edge rate limits are on by default";
  EXPECT_FALSE(me.Header("RateLimit-Remaining").empty());

  identity::app::EndSessionRequest out;
  out.session_cookie = cookie;
  ASSERT_TRUE(RunSync(S().Product().Issuer().EndSession(out)));
  const auto ended = std::chrono::steady_clock::now();
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() - ended < std::chrono::seconds(3)) {
    status = S().Call("GET", "/api/v1/me", {}, token).status;
    if (status == 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto took = std::chrono::steady_clock::now() - ended;
  EXPECT_EQ(status, 401) << "the signed-out session's access token is refused";
  EXPECT_LT(took, std::chrono::seconds(1));
  EXPECT_EQ(S().Call("GET", "/api/v1/me", {}, other).status, 200) << "other sessions go on";
}

TEST_P(ApiE2e, InvitationsBecomeMembershipsAndRolesAreEnforced) {
  auto [owner, org] = OwnerAndOrg();
  const std::string viewer = Member(owner, org, "viewer");
  const std::string member = Member(owner, org, "member");
  const std::string admin = Member(owner, org, "admin");

  auto members = S().Call("GET", "/api/v1/orgs/{org}/members", {{"org", org}}, viewer);
  ASSERT_EQ(members.status, 200) << members.body;
  auto items = Obj(members).at("items").as_array();
  EXPECT_EQ(items.size(), 4u);
  // The viewer's first request activated the invitation.
  for (const auto& m : items) EXPECT_EQ(m.at("status").as_string(), "active");

  // Role × action for identity's admin actions.
  for (const auto& [who, expected] :
       std::vector<std::pair<std::string, int>>{{viewer, 403}, {member, 403}, {admin, 201}}) {
    auto r = S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, who,
                      R"({"email":")" + Unique("x") + R"(@example.com","role":"viewer"})");
    EXPECT_EQ(r.status, expected) << r.body;
    auto k = S().Call("POST", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, who,
                      R"({"name":"ci","role":"viewer"})");
    EXPECT_EQ(k.status, expected) << k.body;
  }
  // Admins may not grant owner; owners may.
  EXPECT_EQ(S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, admin,
                     R"({"email":"o1@example.com","role":"owner"})")
                .status,
            403);
  EXPECT_EQ(S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, owner,
                     R"({"email":"o2@example.com","role":"owner"})")
                .status,
            201);
}

TEST_P(ApiE2e, OtherOrgsObjectsAre404NeverForbidden) {
  auto [owner, org] = OwnerAndOrg();
  auto [stranger, other_org] = OwnerAndOrg();
  auto key = S().Call("POST", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, owner,
                      R"({"name":"k","role":"admin"})");
  ASSERT_EQ(key.status, 201);
  const std::string key_id = Str(Obj(key), "id");
  auto invited = S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, owner,
                          R"({"email":"p@example.com","role":"member"})");
  const std::string member_id = Str(Obj(invited), "id");
  const std::map<std::string, std::string> p{{"org", org}, {"member", member_id}, {"key", key_id}};
  const Headers any{{"If-Match", "*"}};
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}", p, stranger).status, 404);
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}", p, stranger, R"({"name":"x"})", any).status,
            404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/members", p, stranger).status, 404);
  EXPECT_EQ(S().Call("POST", "/api/v1/orgs/{org}/members", p, stranger,
                     R"({"email":"q@example.com","role":"member"})")
                .status,
            404);
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/members/{member}", p, stranger,
                     R"({"role":"admin"})", any)
                .status,
            404);
  EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}", p, stranger, "", any).status,
            404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/api-keys", p, stranger).status, 404);
  EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/api-keys/{key}", p, stranger, "", any).status,
            404);
  // Objects of one org addressed through another org the caller owns: 404 too.
  const std::map<std::string, std::string> mixed{
      {"org", other_org}, {"member", member_id}, {"key", key_id}};
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/members/{member}", mixed, stranger,
                     R"({"role":"admin"})", any)
                .status,
            404);
  EXPECT_EQ(
      S().Call("DELETE", "/api/v1/orgs/{org}/api-keys/{key}", mixed, stranger, "", any).status,
      404);
}

TEST_P(ApiE2e, ApiKeysAuthenticateForTheirOrgOnlyUntilRevoked) {
  auto [owner, org] = OwnerAndOrg();
  auto [other_owner, other_org] = OwnerAndOrg();
  auto created = S().Call("POST", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, owner,
                          R"({"name":"ci","role":"member"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto body = Obj(created);
  const std::string secret = Str(body, "secret");
  EXPECT_TRUE(secret.starts_with("trk_"));
  auto idempotent = S().Call("POST", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, owner,
                             R"({"name":"ci2","role":"member"})", {{"Idempotency-Key", "k1"}});
  EXPECT_EQ(idempotent.status, 400) << "a key's secret is never stored for replay";
  auto listed = S().Call("GET", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, owner);
  EXPECT_EQ(listed.body.find(secret), std::string::npos) << "the secret is shown once";

  auto me = S().Call("GET", "/api/v1/me", {}, secret);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(Str(Obj(me), "kind"), "api_key");
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}", {{"org", org}}, secret).status, 200);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}", {{"org", other_org}}, secret).status, 404);
  EXPECT_EQ(S().Call("POST", "/api/v1/orgs/{org}/api-keys", {{"org", org}}, secret,
                     R"({"name":"escalate","role":"owner"})")
                .status,
            403);

  auto revoked = S().Call("DELETE", "/api/v1/orgs/{org}/api-keys/{key}",
                          {{"org", org}, {"key", Str(body, "id")}}, owner, "",
                          {{"If-Match", created.Header("ETag")}});
  EXPECT_EQ(revoked.status, 204) << revoked.body;
  EXPECT_EQ(S().Call("GET", "/api/v1/me", {}, secret).status, 401);
}

TEST_P(ApiE2e, IdempotencyKeyReplaysConflictsAndRefuses) {
  const std::string token = S().NewUser(Unique("i") + "@example.com");
  const std::string slug = Unique("idem");
  const std::string body = R"({"name":"Idem","slug":")" + slug + R"("})";
  const Headers key{{"Idempotency-Key", "create-" + slug}};
  auto first = S().Call("POST", "/api/v1/orgs", {}, token, body, key);
  ASSERT_EQ(first.status, 201) << first.body;
  auto second = S().Call("POST", "/api/v1/orgs", {}, token, body, key);
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.Header("Location"), first.Header("Location"));
  EXPECT_EQ(second.Header("Idempotency-Replayed"), "true");
  auto different = S().Call("POST", "/api/v1/orgs", {}, token,
                            R"({"name":"Other","slug":"other-)" + slug + R"("})", key);
  EXPECT_EQ(different.status, 422) << different.body;
  auto too_long = S().Call("POST", "/api/v1/orgs", {}, token, body,
                           {{"Idempotency-Key", std::string(256, 'k')}});
  EXPECT_EQ(too_long.status, 400);
  auto list = S().Call("GET", "/api/v1/orgs", {}, token);
  EXPECT_EQ(Obj(list).at("items").as_array().size(), 1u) << "one org, not two";
}

TEST_P(ApiE2e, PaginationWalksEveryMemberOnce) {
  auto [owner, org] = OwnerAndOrg();
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(
        S().Call("POST", "/api/v1/orgs/{org}/members", {{"org", org}}, owner,
                 R"({"email":"page)" + std::to_string(i) + R"(@example.com","role":"viewer"})")
            .status,
        201);
  }
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    const std::string target =
        "/api/v1/orgs/{org}/members?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto r = S().Call("GET", target, {{"org", org}}, owner);
    ASSERT_EQ(r.status, 200) << r.body;
    auto o = Obj(r);
    for (const auto& m : o.at("items").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(m.at("id").as_string())).second);
    }
    cursor = o.at("next_cursor").is_null() ? "" : std::string(o.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/members?limit=201", {{"org", org}}, owner).status,
            422);
  EXPECT_EQ(
      S().Call("GET", "/api/v1/orgs/{org}/members?cursor=forged", {{"org", org}}, owner).status,
      400);
}

// The user id behind a token, from /api/v1/me.
std::string UserId(Stack& s, const std::string& token) {
  auto me = s.Call("GET", "/api/v1/me", {}, token);
  return std::string(json::parse(me.body).at("user").at("id").as_string());
}

TEST_P(ApiE2e, WorkFlowFromProjectToCommentsThroughRealTokens) {
  auto [owner, org] = OwnerAndOrg();
  const std::string member = Member(owner, org, "member");
  const std::string viewer = Member(owner, org, "viewer");
  const std::string member_id = UserId(S(), member);

  auto project = S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner,
                          R"({"name":"Launch","description":"Go live"})");
  ASSERT_EQ(project.status, 201) << project.body;
  const std::string pid = Str(Obj(project), "id");
  const std::map<std::string, std::string> pp{{"org", org}, {"project", pid}};

  EXPECT_EQ(S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", pp, viewer,
                     R"({"title":"Not allowed"})")
                .status,
            403);
  auto task = S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", pp, member,
                       R"({"title":"Write the launch post","description":"with screenshots",)"
                       R"("priority":2,"labels":["marketing"],"due_date":"2026-12-01",)"
                       R"("assignee_id":")" +
                           member_id + R"("})");
  ASSERT_EQ(task.status, 201) << task.body;
  const std::string tid = Str(Obj(task), "id");
  const std::map<std::string, std::string> tp{{"org", org}, {"task", tid}};
  auto outsider = S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", pp, member,
                           R"({"title":"x","assignee_id":"01a20d05-0efe-79e9-bb21-1c21bea41f07"})");
  EXPECT_EQ(outsider.status, 422) << "the assignee must be a member";

  // todo -> done skips a step: refused; todo -> in_progress -> done: allowed.
  auto got = S().Call("GET", "/api/v1/orgs/{org}/tasks/{task}", tp, viewer);
  ASSERT_EQ(got.status, 200);
  auto skip = S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}", tp, member,
                       R"({"status":"done"})", {{"If-Match", got.Header("ETag")}});
  EXPECT_EQ(skip.status, 422) << skip.body;
  auto started = S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}", tp, member,
                          R"({"status":"in_progress"})", {{"If-Match", got.Header("ETag")}});
  ASSERT_EQ(started.status, 200) << started.body;
  auto done = S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}", tp, member,
                       R"({"status":"done"})", {{"If-Match", started.Header("ETag")}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(Str(Obj(done), "status"), "done");
  auto property = S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}", tp, member,
                           R"({"org_id":"other","id":"x"})", {{"If-Match", "*"}});
  EXPECT_EQ(property.status, 422) << "id and org_id are not writable";

  auto found =
      S().Call("GET", "/api/v1/orgs/{org}/projects/{project}/tasks?q=screenshots", pp, viewer);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(Obj(found).at("items").as_array().size(), 1u);

  auto comment = S().Call("POST", "/api/v1/orgs/{org}/tasks/{task}/comments", tp, member,
                          R"({"body":"Draft is in the doc."})");
  ASSERT_EQ(comment.status, 201) << comment.body;
  const std::map<std::string, std::string> cp{
      {"org", org}, {"task", tid}, {"comment", Str(Obj(comment), "id")}};
  const std::string admin = Member(owner, org, "admin");
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}/comments/{comment}", cp, admin,
                     R"({"body":"not mine"})", {{"If-Match", "*"}})
                .status,
            403)
      << "only the author edits a comment";
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/tasks/{task}/comments/{comment}", cp, member,
                     R"({"body":"Edited"})", {{"If-Match", comment.Header("ETag")}})
                .status,
            200);
  EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/tasks/{task}/comments/{comment}", cp, admin, "",
                     {{"If-Match", "*"}})
                .status,
            204)
      << "an admin deletes any comment";
  auto comments = S().Call("GET", "/api/v1/orgs/{org}/tasks/{task}/comments", tp, viewer);
  ASSERT_EQ(comments.status, 200);
  EXPECT_TRUE(Obj(comments).at("items").as_array().empty());

  // Another org's member probing this org's work objects: 404 everywhere.
  auto [stranger, unused] = OwnerAndOrg();
  const std::map<std::string, std::string> all{
      {"org", org}, {"project", pid}, {"task", tid}, {"comment", cp.at("comment")}};
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/projects/{project}", all, stranger).status, 404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/projects/{project}/tasks", all, stranger).status,
            404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/tasks/{task}", all, stranger).status, 404);
  EXPECT_EQ(
      S().Call("DELETE", "/api/v1/orgs/{org}/tasks/{task}", all, stranger, "", {{"If-Match", "*"}})
          .status,
      404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/tasks/{task}/comments", all, stranger).status, 404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/audit-events", all, stranger).status, 404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/events", all, stranger).status, 404);
}

TEST_P(ApiE2e, ProjectSummaryCountsTheBoardInOneBatch) {
  auto [owner, org] = OwnerAndOrg();
  const std::string member = Member(owner, org, "member");
  const std::string viewer = Member(owner, org, "viewer");
  const std::string member_id = UserId(S(), member);
  auto project =
      S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner, R"({"name":"Board"})");
  ASSERT_EQ(project.status, 201) << project.body;
  const std::string pid = Str(Obj(project), "id");
  const std::map<std::string, std::string> pp{{"org", org}, {"project", pid}};
  auto other = S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner,
                        R"({"name":"Elsewhere"})");
  ASSERT_EQ(other.status, 201) << other.body;
  const std::map<std::string, std::string> op{{"org", org}, {"project", Str(Obj(other), "id")}};

  // Tasks in creation order; the last one created is the most recently updated.
  const std::string assignee = R"(,"assignee_id":")" + member_id + R"(")";
  const std::vector<std::string> bodies = {
      // todo, overdue, unassigned, urgent
      R"({"title":"One","priority":1,"due_date":"2000-01-01"})",
      // in progress, high, assigned, due far ahead
      R"({"title":"Two","status":"in_progress","priority":2,"due_date":"2999-01-01")" + assignee +
          "}",
      // done: overdue and urgent do not count once closed
      R"({"title":"Three","status":"done","priority":1,"due_date":"2000-01-01"})",
      // todo, unassigned, medium
      R"({"title":"Four","priority":3})",
      // canceled
      R"({"title":"Five","status":"canceled","priority":2})",
      // todo, assigned
      R"({"title":"Six")" + assignee + "}",
  };
  std::vector<std::string> ids;
  std::map<std::string, std::string> updated_at;  // by id
  for (const std::string& body : bodies) {
    auto t = S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", pp, member, body);
    ASSERT_EQ(t.status, 201) << body << " " << t.body;
    ids.push_back(Str(Obj(t), "id"));
    updated_at[ids.back()] = Str(Obj(t), "updated_at");
  }
  // Noise that must not count: a task and a comment in the other project.
  auto noise = S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", op, member,
                        R"({"title":"Noise","priority":1,"due_date":"2000-01-01"})");
  ASSERT_EQ(noise.status, 201) << noise.body;
  for (const std::string& task : {ids[0], ids[2], Str(Obj(noise), "id")}) {
    auto c = S().Call("POST", "/api/v1/orgs/{org}/tasks/{task}/comments",
                      {{"org", org}, {"task", task}}, member, R"({"body":"On it."})");
    ASSERT_EQ(c.status, 201) << c.body;
  }

  auto summary = S().Call("GET", "/api/v1/orgs/{org}/projects/{project}/summary", pp, viewer);
  ASSERT_EQ(summary.status, 200) << summary.body;
  const json::object body = Obj(summary);
  EXPECT_EQ(Str(body.at("project").as_object(), "id"), pid);
  const json::object& tasks = body.at("tasks").as_object();
  EXPECT_EQ(tasks.at("todo").as_int64(), 3);
  EXPECT_EQ(tasks.at("in_progress").as_int64(), 1);
  EXPECT_EQ(tasks.at("done").as_int64(), 1);
  EXPECT_EQ(tasks.at("canceled").as_int64(), 1);
  EXPECT_EQ(tasks.at("overdue").as_int64(), 1);
  EXPECT_EQ(tasks.at("unassigned").as_int64(), 2);
  EXPECT_EQ(tasks.at("urgent_or_high").as_int64(), 2);
  EXPECT_EQ(body.at("recent_comments").as_int64(), 2);
  // The five most recently updated, newest first: the sixth task (created first) is left out
  // unless it shares its millisecond with a later one (the clock is real; ties go by id).
  const json::array& recent = body.at("recent_tasks").as_array();
  ASSERT_EQ(recent.size(), 5u);
  std::set<std::string> listed;
  std::string previous = "9999";
  for (const auto& t : recent) {
    const std::string updated = Str(t.as_object(), "updated_at");
    EXPECT_LE(updated, previous) << "newest first";
    previous = updated;
    listed.insert(Str(t.as_object(), "id"));
    EXPECT_NE(std::find(ids.begin(), ids.end(), Str(t.as_object(), "id")), ids.end())
        << "only this project's tasks";
  }
  EXPECT_EQ(listed.size(), 5u);
  for (const std::string& id : ids) {
    if (!listed.contains(id)) {
      EXPECT_LE(updated_at.at(id), previous) << "an older task left out";
    }
  }
  EXPECT_EQ(Str(recent[0].as_object(), "updated_at"), updated_at.at(ids.back()));

  // Another org's member: 404; an id that names nothing: 404.
  auto [stranger, unused] = OwnerAndOrg();
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/projects/{project}/summary", pp, stranger).status,
            404);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/projects/{project}/summary",
                     {{"org", org}, {"project", "0190d1a4-0000-7000-8000-000000000000"}}, viewer)
                .status,
            404);
}

TEST_P(ApiE2e, LiveUpdatesReachAnotherMemberAndResume) {
  auto [owner, org] = OwnerAndOrg();
  const std::string member = Member(owner, org, "member");
  auto project =
      S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner, R"({"name":"Live"})");
  ASSERT_EQ(project.status, 201);
  const std::string pid = Str(Obj(project), "id");

  // The member listens while the owner creates a task.
  std::string stream;
  std::thread listener([&] {
    stream = S().Api().ReadStream("/api/v1/orgs/" + org + "/events",
                                  {{"Authorization", "Bearer " + member}}, std::chrono::seconds(10),
                                  [](const std::string& seen) {
                                    return seen.find("work.task.created") != std::string::npos;
                                  });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto task = S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks",
                       {{"org", org}, {"project", pid}}, owner, R"({"title":"Seen live"})");
  ASSERT_EQ(task.status, 201);
  listener.join();
  EXPECT_NE(stream.find("text/event-stream"), std::string::npos) << stream;
  const auto at = stream.find("event: work.task.created");
  ASSERT_NE(at, std::string::npos) << stream;
  EXPECT_NE(stream.find("Seen live", at), std::string::npos);

  // Resuming from the project's event replays only what came after it.
  // Each event is "id: <offset>\nevent: <type>\ndata: …": the id line precedes the type.
  const auto id_at = stream.rfind("id: ", at);
  ASSERT_NE(id_at, std::string::npos);
  const std::string task_event_id = stream.substr(id_at + 4, stream.find('\n', id_at) - id_at - 4);
  auto comment = S().Call("POST", "/api/v1/orgs/{org}/tasks/{task}/comments",
                          {{"org", org}, {"task", Str(Obj(task), "id")}}, owner,
                          R"({"body":"after the task"})");
  ASSERT_EQ(comment.status, 201);
  std::string resumed = S().Api().ReadStream(
      "/api/v1/orgs/" + org + "/events",
      {{"Authorization", "Bearer " + member}, {"Last-Event-ID", task_event_id}},
      std::chrono::seconds(10), [](const std::string& seen) {
        return seen.find("work.comment.created") != std::string::npos;
      });
  EXPECT_NE(resumed.find("work.comment.created"), std::string::npos) << resumed;
  EXPECT_EQ(resumed.find("work.task.created"), std::string::npos) << resumed;
}

TEST_P(ApiE2e, AuditLogProjectsEveryMutationForAdminsOnly) {
  auto [owner, org] = OwnerAndOrg();
  const std::string member = Member(owner, org, "member");
  ASSERT_EQ(S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner,
                     R"({"name":"Audited"})")
                .status,
            201);
  std::set<std::string> actions;
  for (int i = 0; i < 100 && !actions.contains("work.project.created"); ++i) {
    auto r = S().Call("GET", "/api/v1/orgs/{org}/audit-events", {{"org", org}}, owner);
    ASSERT_EQ(r.status, 200) << r.body;
    actions.clear();
    const auto body = Obj(r);
    for (const auto& e : body.at("items").as_array()) {
      actions.insert(std::string(e.at("action").as_string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const char* a : {"identity.org.created", "identity.member.invited", "identity.member.joined",
                        "work.project.created"}) {
    EXPECT_TRUE(actions.contains(a)) << a;
  }
  auto filtered = S().Call("GET", "/api/v1/orgs/{org}/audit-events?action=work.project.created",
                           {{"org", org}}, owner);
  ASSERT_EQ(filtered.status, 200);
  EXPECT_EQ(Obj(filtered).at("items").as_array().size(), 1u);
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/audit-events", {{"org", org}}, member).status, 403);
  EXPECT_EQ(
      S().Call("GET", "/api/v1/orgs/{org}/audit-events?since=yesterday", {{"org", org}}, owner)
          .status,
      422);
}

TEST_P(ApiE2e, IdentityRoleMatrixAndMembershipChanges) {
  auto [owner, org] = OwnerAndOrg();
  const std::map<std::string, std::string> o{{"org", org}};
  struct Case {
    const char* role;
    std::string token;
    bool admin;
  };
  std::vector<Case> cases{{"viewer", Member(owner, org, "viewer"), false},
                          {"member", Member(owner, org, "member"), false},
                          {"admin", Member(owner, org, "admin"), true}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.role);
    const int allowed_or_403 = c.admin ? 200 : 403;
    EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}", o, c.token).status, 200);
    EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/members", o, c.token).status, 200);
    EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}/api-keys", o, c.token).status, allowed_or_403);
    EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}", o, c.token, R"({"name":"Renamed"})",
                       {{"If-Match", "*"}})
                  .status,
              allowed_or_403);
    // A target to change and remove: a fresh invitation.
    auto target = S().Call("POST", "/api/v1/orgs/{org}/members", o, owner,
                           R"({"email":")" + Unique("t") + R"(@example.com","role":"viewer"})");
    ASSERT_EQ(target.status, 201);
    const std::map<std::string, std::string> m{{"org", org}, {"member", Str(Obj(target), "id")}};
    auto changed = S().Call("PATCH", "/api/v1/orgs/{org}/members/{member}", m, c.token,
                            R"({"role":"member"})", {{"If-Match", target.Header("ETag")}});
    EXPECT_EQ(changed.status, allowed_or_403) << changed.body;
    auto key = S().Call("POST", "/api/v1/orgs/{org}/api-keys", o, owner,
                        R"({"name":"k","role":"viewer"})");
    ASSERT_EQ(key.status, 201);
    EXPECT_EQ(
        S().Call("DELETE", "/api/v1/orgs/{org}/api-keys/{key}",
                 {{"org", org}, {"key", Str(Obj(key), "id")}}, c.token, "", {{"If-Match", "*"}})
            .status,
        c.admin ? 204 : 403);
    EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}", m, c.token, "",
                       {{"If-Match", "*"}})
                  .status,
              c.admin ? 204 : 403);
  }

  // The owner's own membership: the last owner can neither be demoted nor leave.
  auto members = S().Call("GET", "/api/v1/orgs/{org}/members?limit=200", o, owner);
  std::string owner_member;
  const auto body = Obj(members);
  for (const auto& m : body.at("items").as_array()) {
    if (m.at("role").as_string() == "owner") owner_member = std::string(m.at("id").as_string());
  }
  ASSERT_FALSE(owner_member.empty());
  const std::map<std::string, std::string> om{{"org", org}, {"member", owner_member}};
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/members/{member}", om, owner,
                     R"({"role":"admin"})", {{"If-Match", "*"}})
                .status,
            409);
  EXPECT_EQ(
      S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}", om, owner, "", {{"If-Match", "*"}})
          .status,
      409);
  EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}", om, owner).status, 428);
  // An admin may not touch an owner.
  EXPECT_EQ(S().Call("PATCH", "/api/v1/orgs/{org}/members/{member}", om, cases[2].token,
                     R"({"role":"viewer"})", {{"If-Match", "*"}})
                .status,
            403);
  // A removed member loses access at once.
  const std::string leaving = Member(owner, org, "member");
  auto mine = S().Call("GET", "/api/v1/orgs/{org}/members?limit=200", o, owner);
  const std::string me_id = UserId(S(), leaving);
  std::string leaving_member;
  const auto mine_body = Obj(mine);
  for (const auto& m : mine_body.at("items").as_array()) {
    if (m.at("user_id").is_string() && m.at("user_id").as_string() == me_id) {
      leaving_member = std::string(m.at("id").as_string());
    }
  }
  ASSERT_FALSE(leaving_member.empty());
  EXPECT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}",
                     {{"org", org}, {"member", leaving_member}}, leaving, "", {{"If-Match", "*"}})
                .status,
            204)
      << "anyone may leave";
  EXPECT_EQ(S().Call("GET", "/api/v1/orgs/{org}", o, leaving).status, 404);
}

TEST_P(ApiE2e, CachedListsFollowEveryChangeAtOnce) {
  auto [owner, org] = OwnerAndOrg();
  const std::string member = Member(owner, org, "member");
  auto project = S().Call("POST", "/api/v1/orgs/{org}/projects", {{"org", org}}, owner,
                          R"({"name":"Cached"})");
  ASSERT_EQ(project.status, 201);
  const std::map<std::string, std::string> pp{{"org", org}, {"project", Str(Obj(project), "id")}};
  const std::string list = "/api/v1/orgs/{org}/projects/{project}/tasks?limit=50";
  auto count = [&](const std::string& token) {
    auto r = S().Call("GET", list, pp, token);
    return r.status == 200 ? static_cast<int>(Obj(r).at("items").as_array().size()) : -r.status;
  };
  EXPECT_EQ(count(member), 0);
  EXPECT_EQ(count(member), 0);  // warm
  ASSERT_EQ(S().Call("POST", "/api/v1/orgs/{org}/projects/{project}/tasks", pp, owner,
                     R"({"title":"appears at once"})")
                .status,
            201);
  EXPECT_EQ(count(member), 1) << "a cached page never hides a committed task";

  // Find the member's membership and remove it: the next list is 404, not a cached 200.
  const std::string user = UserId(S(), member);
  auto members = S().Call("GET", "/api/v1/orgs/{org}/members?limit=200", {{"org", org}}, owner);
  std::string member_id;
  const auto body = Obj(members);
  for (const auto& m : body.at("items").as_array()) {
    if (m.at("user_id").is_string() && m.at("user_id").as_string() == user) {
      member_id = std::string(m.at("id").as_string());
    }
  }
  ASSERT_FALSE(member_id.empty());
  ASSERT_EQ(S().Call("DELETE", "/api/v1/orgs/{org}/members/{member}",
                     {{"org", org}, {"member", member_id}}, owner, "", {{"If-Match", "*"}})
                .status,
            204);
  EXPECT_EQ(count(member), -404) << "a removed member loses access on the very next request";
}

INSTANTIATE_TEST_SUITE_P(Engines, ApiE2e, ::testing::Values(Engine::kSqlite, Engine::kPostgres),
                         EngineName);

}  // namespace
}  // namespace trellis::tests::e2e
