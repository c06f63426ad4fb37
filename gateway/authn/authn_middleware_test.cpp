// The authentication middleware with a real OidcVerifier (keys served by an in-memory Fetcher)
// and a fake IdentityClient, driven through http::RunChain.
#include "gateway/authn/authn_middleware.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "platform/auth/jwt.hpp"

namespace trellis::gateway::authn {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = platform::http;
namespace core = platform::core;
namespace auth = platform::auth;
using namespace std::chrono_literals;
using core::ErrorCode;

constexpr const char* kAudience = "trellis-api";

// Serves discovery and JWKS documents from memory, per URL.
class MemoryFetcher final : public auth::Fetcher {
 public:
  void Serve(std::string url, std::string body) { bodies_[std::move(url)] = std::move(body); }
  // Fetcher
  asio::awaitable<core::Result<http::ClientResponse>> Get(std::string url,
                                                          core::Clock::MonoTime) override {
    ++count_;
    http::ClientResponse res;
    auto it = bodies_.find(url);
    res.status = it == bodies_.end() ? 404 : 200;
    if (it != bodies_.end()) res.body = it->second;
    co_return res;
  }
  int count_ = 0;

 private:
  std::map<std::string, std::string> bodies_;
};

class FakeIdentity final : public identity::v1::IdentityClient {
 public:
  // IdentityClient
  identity::v1::Call<identity::v1::Membership> GetMembership(identity::v1::GetMembershipRequest,
                                                             core::CallContext) override {
    co_return core::Fail(ErrorCode::kUnimplemented, "not used");
  }
  identity::v1::Call<identity::v1::ApiKeyPrincipal> AuthenticateApiKey(
      identity::v1::AuthenticateApiKeyRequest request, core::CallContext) override {
    ++api_key_calls;
    if (request.secret() == "trk_down") co_return core::Fail(ErrorCode::kUnavailable, "down");
    if (request.secret() != "trk_good") {
      co_return core::Fail(ErrorCode::kUnauthenticated, "invalid API key", "unknown key");
    }
    identity::v1::ApiKeyPrincipal key;
    key.set_key_id("key-1");
    key.set_org_id("org-1");
    key.set_role(identity::v1::ROLE_ADMIN);
    key.set_created_by("user-creator");
    co_return key;
  }
  identity::v1::Call<identity::v1::User> ResolveSubject(identity::v1::ResolveSubjectRequest request,
                                                        core::CallContext) override {
    resolved.push_back(request);
    identity::v1::User user;
    user.set_id("user-for-" + request.subject());
    user.set_email("stored@example.com");
    user.set_name("Stored Name");
    co_return user;
  }
  int api_key_calls = 0;
  std::vector<identity::v1::ResolveSubjectRequest> resolved;
};

struct Issuer {
  std::string url;
  std::optional<auth::SigningKey> key;
  std::shared_ptr<auth::OidcVerifier> verifier;
};

class AuthnMiddlewareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddIssuer("https://id.internal", "a1");
    AddIssuer("https://keycloak.example/realms/t", "b1");
    std::vector<std::shared_ptr<auth::OidcVerifier>> verifiers;
    for (auto& i : issuers_) verifiers.push_back(i.verifier);
    middleware_ = std::make_shared<AuthnMiddleware>(AuthnSettings{}, verifiers, identity_, clock_);
    chain_.push_back(middleware_);
  }

  void AddIssuer(std::string url, std::string kid) {
    Issuer issuer;
    issuer.url = url;
    issuer.key.emplace(auth::SigningKey::Generate(kid).value());
    json::object discovery;
    discovery["issuer"] = url;
    discovery["jwks_uri"] = url + "/jwks";
    fetcher_.Serve(url + "/.well-known/openid-configuration", json::serialize(discovery));
    fetcher_.Serve(url + "/jwks", auth::JwksJson({issuer.key->PublicJwkJson()}));
    auth::OidcVerifierSettings settings;
    settings.issuer = url;
    settings.audience = kAudience;
    issuer.verifier = auth::OidcVerifier::Create(settings, fetcher_, clock_).value();
    issuers_.push_back(std::move(issuer));
  }

  [[nodiscard]] std::int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch())
        .count();
  }
  std::string Token(std::size_t issuer, std::string sub, std::string email = "") {
    json::object c;
    c["iss"] = issuers_[issuer].url;
    c["sub"] = std::move(sub);
    c["aud"] = kAudience;
    c["exp"] = Now() + 300;
    if (!email.empty()) c["email"] = std::move(email);
    return issuers_[issuer].key->Sign("at+jwt", json::serialize(c)).value();
  }

  struct Outcome {
    http::Response response;
    std::shared_ptr<const core::Principal> principal;  // what the handler saw
    bool handler_ran = false;
  };
  Outcome Send(std::string path, std::vector<std::string> authorization) {
    Outcome out;
    std::vector<std::string> storage = std::move(authorization);
    http::Request req;
    req.path = path;
    req.target = path;
    req.ctx.request_id = "req-1";
    req.ctx.deadline = clock_.Monotonic() + 5s;
    for (const auto& value : storage) req.headers.push_back({"Authorization", value});
    http::Handler handler = [&out](http::Request& r) -> asio::awaitable<http::Response> {
      out.handler_ran = true;
      out.principal = r.ctx.principal;
      co_return http::Response::Text(200, "ok");
    };
    asio::io_context io;
    asio::co_spawn(io, http::RunChain(chain_, handler, req),
                   [&out](std::exception_ptr e, http::Response r) {
                     if (e) std::rethrow_exception(e);
                     out.response = std::move(r);
                   });
    io.run();
    return out;
  }

  static std::string HeaderOf(const http::Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (http::EqualsIgnoreCase(n, name)) return v;
    }
    return {};
  }
  static void Expect401(const Outcome& o, const char* what) {
    EXPECT_FALSE(o.handler_ran) << what;
    EXPECT_EQ(o.response.status, 401) << what;
    EXPECT_EQ(o.response.content_type, http::kProblemJson) << what;
    EXPECT_TRUE(HeaderOf(o.response, "WWW-Authenticate").starts_with("Bearer")) << what;
  }

  core::ManualClock clock_;
  MemoryFetcher fetcher_;
  FakeIdentity identity_;
  std::vector<Issuer> issuers_;
  std::shared_ptr<AuthnMiddleware> middleware_;
  http::MiddlewareChain chain_;
};

TEST_F(AuthnMiddlewareTest, PathsOutsideThePrefixPassAnonymously) {
  auto o = Send("/healthz", {});
  EXPECT_TRUE(o.handler_ran);
  EXPECT_EQ(o.principal, nullptr);
  EXPECT_EQ(o.response.status, 200);
}

TEST_F(AuthnMiddlewareTest, MissingCredentialsAre401WithAChallenge) {
  auto o = Send("/api/v1/orgs", {});
  Expect401(o, "no header");
  EXPECT_EQ(HeaderOf(o.response, "WWW-Authenticate"), "Bearer realm=\"trellis\"");
  boost::json::value body = boost::json::parse(o.response.body);
  EXPECT_EQ(body.at("status").as_int64(), 401);
  EXPECT_EQ(body.at("instance").as_string(), "/api/v1/orgs");
}

TEST_F(AuthnMiddlewareTest, MalformedAuthorizationIs401) {
  for (const char* value : {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token abc",
                            "Bearer abc!def", "Bearer =abc"}) {
    auto o = Send("/api/v1/orgs", {value});
    Expect401(o, value);
    EXPECT_NE(HeaderOf(o.response, "WWW-Authenticate").find("invalid_token"), std::string::npos);
  }
  Expect401(Send("/api/v1/orgs", {"Bearer trk_good", "Bearer trk_good"}), "two headers");
  EXPECT_EQ(identity_.api_key_calls, 0);
  EXPECT_EQ(fetcher_.count_, 0);
}

TEST_F(AuthnMiddlewareTest, ApiKeyBecomesAnApiKeyPrincipal) {
  auto o = Send("/api/v1/orgs/org-1/projects", {"bearer trk_good"});
  ASSERT_TRUE(o.handler_ran);
  ASSERT_NE(o.principal, nullptr);
  EXPECT_TRUE(o.principal->IsApiKey());
  EXPECT_EQ(o.principal->api_key_id, "key-1");
  EXPECT_EQ(o.principal->api_key_org_id, "org-1");
  EXPECT_EQ(o.principal->api_key_role, core::Role::kAdmin);
  EXPECT_EQ(o.principal->user_id, "user-creator");
  EXPECT_EQ(fetcher_.count_, 0);  // API keys never touch the OIDC verifiers
}

TEST_F(AuthnMiddlewareTest, UnknownApiKeyIs401AndIdentityOutageIs503) {
  Expect401(Send("/api/v1/orgs", {"Bearer trk_bad"}), "unknown key");
  auto down = Send("/api/v1/orgs", {"Bearer trk_down"});
  EXPECT_FALSE(down.handler_ran);
  EXPECT_EQ(down.response.status, 503);
}

TEST_F(AuthnMiddlewareTest, AccessTokenBecomesAUserPrincipal) {
  auto o = Send("/api/v1/me", {"Bearer " + Token(0, "sub-1", "ada@example.com")});
  ASSERT_TRUE(o.handler_ran) << o.response.body;
  ASSERT_NE(o.principal, nullptr);
  EXPECT_FALSE(o.principal->IsApiKey());
  EXPECT_EQ(o.principal->user_id, "user-for-sub-1");
  EXPECT_EQ(o.principal->issuer, "https://id.internal");
  EXPECT_EQ(o.principal->subject, "sub-1");
  EXPECT_EQ(o.principal->email, "ada@example.com");
  EXPECT_EQ(o.principal->name, "Stored Name");  // not in the token: identity's
  ASSERT_EQ(identity_.resolved.size(), 1U);
  EXPECT_EQ(identity_.resolved[0].issuer(), "https://id.internal");
  EXPECT_EQ(identity_.resolved[0].email(), "ada@example.com");
}

TEST_F(AuthnMiddlewareTest, EachIssuerHasItsOwnVerifier) {
  auto o = Send("/api/v1/me", {"Bearer " + Token(1, "kc-sub")});
  ASSERT_TRUE(o.handler_ran) << o.response.body;
  EXPECT_EQ(o.principal->issuer, "https://keycloak.example/realms/t");
  // A token naming issuer 1 but signed by issuer 0's key fails issuer 1's verifier.
  json::object c;
  c["iss"] = issuers_[1].url;
  c["sub"] = "forged";
  c["aud"] = kAudience;
  c["exp"] = Now() + 300;
  Expect401(
      Send("/api/v1/me", {"Bearer " + issuers_[0].key->Sign("at+jwt", json::serialize(c)).value()}),
      "cross-issuer key");
}

TEST_F(AuthnMiddlewareTest, UnknownIssuerIs401WithoutFetch) {
  json::object c;
  c["iss"] = "https://evil.example";
  c["sub"] = "x";
  c["aud"] = kAudience;
  c["exp"] = Now() + 300;
  auto o =
      Send("/api/v1/me", {"Bearer " + issuers_[0].key->Sign("at+jwt", json::serialize(c)).value()});
  Expect401(o, "unknown iss");
  EXPECT_EQ(fetcher_.count_, 0);
  Expect401(Send("/api/v1/me", {"Bearer not.a.jwt"}), "garbage token");
}

TEST_F(AuthnMiddlewareTest, ResolvedUsersAreCachedForTheTtl) {
  const std::string token = "Bearer " + Token(0, "sub-2");
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  ASSERT_TRUE(Send("/api/v1/me", {"Bearer " + Token(0, "sub-2", "new@example.com")}).handler_ran);
  EXPECT_EQ(identity_.resolved.size(), 1U);
  EXPECT_EQ(middleware_->GetStats().user_cache_hits, 1U);
  clock_.Advance(61s);
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  EXPECT_EQ(identity_.resolved.size(), 2U);
  EXPECT_EQ(middleware_->GetStats().resolve_calls, 2U);
}

TEST_F(AuthnMiddlewareTest, ExpiredTokenIs401) {
  const std::string token = "Bearer " + Token(0, "sub-3");
  clock_.Advance(300s + 31s);
  auto o = Send("/api/v1/me", {token});
  Expect401(o, "expired");
  EXPECT_TRUE(identity_.resolved.empty());
}

TEST_F(AuthnMiddlewareTest, ARepeatedTokenTakesTheFastPath) {
  const std::string token = "Bearer " + Token(0, "sub-4", "four@example.com");
  auto first = Send("/api/v1/me", {token});
  ASSERT_TRUE(first.handler_ran);
  EXPECT_EQ(middleware_->GetStats().token_cache_hits, 0U);
  for (int i = 0; i < 3; ++i) {
    auto again = Send("/api/v1/me", {token});
    ASSERT_TRUE(again.handler_ran);
    // The very principal built the first time, without the verifier or identity again.
    EXPECT_EQ(again.principal, first.principal);
  }
  EXPECT_EQ(middleware_->GetStats().token_cache_hits, 3U);
  EXPECT_EQ(identity_.resolved.size(), 1U);
  EXPECT_EQ(first.principal->user_id, "user-for-sub-4");
  EXPECT_EQ(first.principal->email, "four@example.com");
  // A token that differs in one character is a stranger to the fast path.
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  Expect401(Send("/api/v1/me", {tampered}), "tampered known token");
  EXPECT_EQ(middleware_->GetStats().token_cache_hits, 3U);
}

TEST_F(AuthnMiddlewareTest, TheFastPathEndsAtTheTokensExpiry) {
  const std::string token = "Bearer " + Token(0, "sub-5");
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  clock_.Advance(30s);
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  EXPECT_EQ(middleware_->GetStats().token_cache_hits, 1U);
  clock_.Advance(300s);  // exp + leeway has passed
  Expect401(Send("/api/v1/me", {token}), "expired after fast-path hits");
}

TEST_F(AuthnMiddlewareTest, TheFastPathCanBeTurnedOff) {
  AuthnSettings settings;
  settings.token_cache_size = 0;
  std::vector<std::shared_ptr<auth::OidcVerifier>> verifiers;
  for (auto& i : issuers_) verifiers.push_back(i.verifier);
  chain_.clear();
  middleware_ = std::make_shared<AuthnMiddleware>(settings, verifiers, identity_, clock_);
  chain_.push_back(middleware_);
  const std::string token = "Bearer " + Token(0, "sub-6");
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  ASSERT_TRUE(Send("/api/v1/me", {token}).handler_ran);
  EXPECT_EQ(middleware_->GetStats().token_cache_hits, 0U);
  EXPECT_EQ(middleware_->GetStats().user_cache_hits, 1U);
}

}  // namespace
}  // namespace trellis::gateway::authn
