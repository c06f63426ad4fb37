// The OIDC verifier against a real platform/http Server on 127.0.0.1 port 0 serving discovery
// and the JWKS, with a ManualClock and a fetch-counting Fetcher: the JWT battery of issue 3.
#include "platform/auth/oidc_verifier.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/auth/jwt.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/client.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"

namespace trellis::platform::auth {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using core::ErrorCode;

constexpr const char* kAudience = "trellis-api";

// Serves /.well-known/openid-configuration, /jwks (optionally slow) and /attacker (counted).
class IdpServer {
 public:
  IdpServer() : ids_(core::SystemClock::Instance()) {
    router_.Add(http::Method::kGet, "/.well-known/openid-configuration",
                [this](http::Request&) -> asio::awaitable<http::Response> {
                  std::string body = Discovery();
                  co_return http::Response::Json(200, std::move(body));
                });
    router_.Add(http::Method::kGet, "/jwks",
                [this](http::Request&) -> asio::awaitable<http::Response> {
                  const auto delay = std::chrono::milliseconds(jwks_delay_ms_.load());
                  if (delay.count() > 0) {
                    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
                    co_await timer.async_wait(asio::use_awaitable);
                  }
                  std::string body = Jwks();
                  co_return http::Response::Json(200, std::move(body));
                });
    router_.Add(http::Method::kGet, "/attacker",
                [this](http::Request&) -> asio::awaitable<http::Response> {
                  ++attacker_hits_;
                  co_return http::Response::Json(200, R"({"keys":[]})");
                });
    http::ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    settings.shutdown_timeout = 1s;
    server_ = std::make_unique<http::Server>(settings, router_, http::MiddlewareChain{}, registry_,
                                             core::SystemClock::Instance(), ids_);
    if (auto started = server_->Start(); !started) ADD_FAILURE() << started.error().message;
    issuer_ = "http://127.0.0.1:" + std::to_string(server_->Port());
    discovery_issuer_ = issuer_;
  }
  ~IdpServer() {
    server_->Shutdown();
    server_->Wait();
  }
  IdpServer(const IdpServer&) = delete;
  IdpServer& operator=(const IdpServer&) = delete;

  [[nodiscard]] const std::string& Issuer() const { return issuer_; }
  void SetKeys(std::vector<std::string> jwks) {
    std::lock_guard lock(mu_);
    jwks_ = std::move(jwks);
  }
  void SetDiscoveryIssuer(std::string issuer) {
    std::lock_guard lock(mu_);
    discovery_issuer_ = std::move(issuer);
  }
  void SetJwksDelay(std::chrono::milliseconds d) { jwks_delay_ms_ = static_cast<int>(d.count()); }
  [[nodiscard]] int AttackerHits() const { return attacker_hits_.load(); }

 private:
  std::string Discovery() {
    std::lock_guard lock(mu_);
    json::object doc;
    doc["issuer"] = discovery_issuer_;
    doc["jwks_uri"] = issuer_ + "/jwks";
    doc["authorization_endpoint"] = issuer_ + "/authorize";
    return json::serialize(doc);
  }
  std::string Jwks() {
    std::lock_guard lock(mu_);
    return JwksJson(jwks_);
  }

  observe::Registry registry_;
  core::UuidV7Generator ids_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::string issuer_;
  std::mutex mu_;
  std::string discovery_issuer_;   // guarded by mu_
  std::vector<std::string> jwks_;  // guarded by mu_
  std::atomic<int> jwks_delay_ms_{0};
  std::atomic<int> attacker_hits_{0};
};

// Counts every outbound fetch, whatever its URL.
class CountingFetcher final : public Fetcher {
 public:
  explicit CountingFetcher(Fetcher& inner) : inner_(inner) {}
  // Fetcher
  asio::awaitable<core::Result<http::ClientResponse>> Get(std::string url,
                                                          core::Clock::MonoTime deadline) override {
    ++count_;
    co_return co_await inner_.Get(std::move(url), deadline);
  }
  [[nodiscard]] int Count() const { return count_.load(); }

 private:
  Fetcher& inner_;
  std::atomic<int> count_{0};
};

using ::trellis::platform::ports::RunSync;

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

class OidcVerifierTest : public ::testing::Test {
 protected:
  OidcVerifierTest()
      : client_(http::ClientSettings{}, clock_), http_fetcher_(client_), fetcher_(http_fetcher_) {}

  void SetUp() override {
    key_.emplace(SigningKey::Generate("k1").value());
    other_key_.emplace(SigningKey::Generate("k2").value());
    idp_.SetKeys({key_->PublicJwkJson()});
    settings_.issuer = idp_.Issuer();
    settings_.audience = kAudience;
  }

  std::shared_ptr<OidcVerifier> Make() {
    auto verifier = OidcVerifier::Create(settings_, fetcher_, clock_);
    EXPECT_TRUE(verifier.has_value()) << verifier.error().message;
    return *verifier;
  }
  std::shared_ptr<OidcVerifier> MakeStarted() {
    auto verifier = Make();
    auto started = RunSync(verifier->Start());
    EXPECT_TRUE(started.has_value()) << started.error().internal;
    return verifier;
  }

  [[nodiscard]] std::int64_t Now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch())
        .count();
  }
  json::object Claims() const {
    json::object c;
    c["iss"] = idp_.Issuer();
    c["sub"] = "subject-1";
    c["aud"] = kAudience;
    c["exp"] = Now() + 300;
    c["iat"] = Now();
    c["nbf"] = Now();
    c["email"] = "ada@example.com";
    c["name"] = "Ada";
    c["scope"] = "openid profile email";
    return c;
  }
  std::string Sign(const json::object& claims, std::string_view typ = "at+jwt") const {
    return key_->Sign(typ, json::serialize(claims)).value();
  }
  core::Result<VerifiedToken> Verify(OidcVerifier& v, std::string token) {
    return RunSync(v.Verify(std::move(token), clock_.Monotonic() + 5s));
  }
  // Verifies a token expected to fail with kUnauthenticated and no outbound fetch.
  void ExpectRefusedWithoutFetch(OidcVerifier& v, std::string token, const char* what) {
    const int before = fetcher_.Count();
    auto result = Verify(v, std::move(token));
    ASSERT_FALSE(result.has_value()) << what;
    EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated) << what;
    EXPECT_FALSE(result.error().internal.empty()) << what;
    EXPECT_EQ(fetcher_.Count(), before) << what;
  }

  IdpServer idp_;
  core::ManualClock clock_;
  http::Client client_;
  ClientFetcher http_fetcher_;
  CountingFetcher fetcher_;
  OidcVerifierSettings settings_;
  std::optional<SigningKey> key_;
  std::optional<SigningKey> other_key_;
};

TEST_F(OidcVerifierTest, HappyPathDiscoversVerifiesAndMapsClaims) {
  auto v = Make();
  auto token = Verify(*v, Sign(Claims()));
  ASSERT_TRUE(token.has_value()) << token.error().internal;
  EXPECT_EQ(token->issuer, idp_.Issuer());
  EXPECT_EQ(token->subject, "subject-1");
  EXPECT_EQ(token->email, "ada@example.com");
  EXPECT_EQ(token->name, "Ada");
  EXPECT_EQ(token->scopes, (std::vector<std::string>{"openid", "profile", "email"}));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(token->expires_at.time_since_epoch())
                .count(),
            Now() + 300);
  EXPECT_NE(token->claims_json.find("\"sub\":\"subject-1\""), std::string::npos);
  EXPECT_EQ(fetcher_.Count(), 2);  // discovery + JWKS, lazily
  EXPECT_EQ(v->GetStats().discovery_fetches, 1U);
  EXPECT_EQ(v->GetStats().jwks_fetches, 1U);
  EXPECT_EQ(v->GetStats().signature_checks, 1U);
}

TEST_F(OidcVerifierTest, SecondVerifyIsACacheHitWithoutSignatureCheck) {
  auto v = MakeStarted();
  const std::string token = Sign(Claims());
  ASSERT_TRUE(Verify(*v, token).has_value());
  auto again = Verify(*v, token);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->subject, "subject-1");
  EXPECT_EQ(v->GetStats().signature_checks, 1U);
  EXPECT_EQ(v->GetStats().cache_hits, 1U);
  EXPECT_EQ(fetcher_.Count(), 2);
}

TEST_F(OidcVerifierTest, CachedTokenStopsAtExpiry) {
  settings_.leeway = 0s;
  auto v = MakeStarted();
  json::object claims = Claims();
  claims["exp"] = Now() + 10;
  const std::string token = Sign(claims);
  ASSERT_TRUE(Verify(*v, token).has_value());
  clock_.Advance(11s);
  EXPECT_FALSE(Verify(*v, token).has_value());
  EXPECT_EQ(v->GetStats().cache_hits, 0U);
}

TEST_F(OidcVerifierTest, CacheIsBounded) {
  settings_.cache_size = 2;
  auto v = MakeStarted();
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    json::object claims = Claims();
    claims["sub"] = "s" + std::to_string(i);
    tokens.push_back(Sign(claims));
    ASSERT_TRUE(Verify(*v, tokens.back()).has_value());
  }
  ASSERT_TRUE(Verify(*v, tokens[0]).has_value());  // evicted: checked again
  EXPECT_EQ(v->GetStats().signature_checks, 4U);
  ASSERT_TRUE(Verify(*v, tokens[2]).has_value());  // still cached
  EXPECT_EQ(v->GetStats().signature_checks, 4U);
}

TEST_F(OidcVerifierTest, AlgNoneIsRefusedWithoutFetch) {
  auto v = Make();
  const std::string token = Base64UrlEncode(R"({"alg":"none","typ":"at+jwt","kid":"k1"})") + "." +
                            Base64UrlEncode(json::serialize(Claims())) + ".";
  ExpectRefusedWithoutFetch(*v, token, "alg none, empty signature");
  const std::string with_sig = token + Base64UrlEncode(std::string(64, 'x'));
  ExpectRefusedWithoutFetch(*v, with_sig, "alg none, some signature");
  EXPECT_EQ(fetcher_.Count(), 0);
}

TEST_F(OidcVerifierTest, Hs256WithThePublicKeyAsSecretIsRefusedWithoutFetch) {
  auto v = Make();
  const std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"at+jwt","kid":"k1"})") + "." +
                            Base64UrlEncode(json::serialize(Claims()));
  for (const std::string& secret : {key_->PublicJwkJson(), JwksJson({key_->PublicJwkJson()})}) {
    const std::string token = input + "." + Base64UrlEncode(HmacSha256(secret, input));
    ExpectRefusedWithoutFetch(*v, token, "HS256 keyed with public key");
  }
  EXPECT_EQ(fetcher_.Count(), 0);
}

TEST_F(OidcVerifierTest, KeyPointingHeadersAreNeverFollowed) {
  auto v = Make();
  const std::string attacker = idp_.Issuer() + "/attacker";
  const std::string other_jwk = other_key_->PublicJwkJson();
  const std::string payload = Base64UrlEncode(json::serialize(Claims()));
  for (const std::string& extra :
       {R"("jku":")" + attacker + "\"", R"("jwk":)" + other_jwk, R"("x5u":")" + attacker + "\"",
        std::string(R"("x5c":["MIIBszCCAVmgAwIBAgIU"])")}) {
    const std::string header = R"({"alg":"ES256","typ":"at+jwt","kid":"k2",)" + extra + "}";
    const std::string input = Base64UrlEncode(header) + "." + payload;
    // Signed by the attacker's own key, which the header points at.
    const std::string signed_token = other_key_->Sign("at+jwt", json::serialize(Claims())).value();
    const std::string token = input + signed_token.substr(signed_token.rfind('.'));
    ExpectRefusedWithoutFetch(*v, token, extra.c_str());
  }
  EXPECT_EQ(idp_.AttackerHits(), 0);
  EXPECT_EQ(fetcher_.Count(), 0);
}

TEST_F(OidcVerifierTest, UnknownKidRefetchesOncePerCooldown) {
  auto v = MakeStarted();
  ASSERT_EQ(v->GetStats().jwks_fetches, 1U);
  const std::string token = other_key_->Sign("at+jwt", json::serialize(Claims())).value();

  clock_.Advance(31s);
  ASSERT_FALSE(Verify(*v, token).has_value());
  EXPECT_EQ(v->GetStats().jwks_fetches, 2U);  // exactly one refetch
  ExpectRefusedWithoutFetch(*v, token, "unknown kid within cooldown");
  clock_.Advance(10s);
  ExpectRefusedWithoutFetch(*v, token, "unknown kid still within cooldown");
  EXPECT_EQ(v->GetStats().jwks_fetches, 2U);
  EXPECT_EQ(v->GetStats().discovery_fetches, 1U);

  // The issuer rotates in k2; after the cooldown the next unknown kid picks it up.
  idp_.SetKeys({key_->PublicJwkJson(), other_key_->PublicJwkJson()});
  clock_.Advance(21s);
  auto rotated = Verify(*v, token);
  ASSERT_TRUE(rotated.has_value()) << rotated.error().internal;
  EXPECT_EQ(v->GetStats().jwks_fetches, 3U);
  // The old key still verifies, without another fetch.
  EXPECT_TRUE(Verify(*v, Sign(Claims())).has_value());
  EXPECT_EQ(v->GetStats().jwks_fetches, 3U);
}

TEST_F(OidcVerifierTest, ConcurrentCallersShareOneRefetch) {
  auto v = MakeStarted();
  idp_.SetKeys({key_->PublicJwkJson(), other_key_->PublicJwkJson()});
  idp_.SetJwksDelay(150ms);
  clock_.Advance(31s);
  asio::io_context io;
  std::atomic<int> ok{0};
  constexpr int kCallers = 6;
  for (int i = 0; i < kCallers; ++i) {
    json::object claims = Claims();
    claims["sub"] = "s" + std::to_string(i);
    std::string token = other_key_->Sign("at+jwt", json::serialize(claims)).value();
    asio::co_spawn(io, v->Verify(std::move(token), clock_.Monotonic() + 5s),
                   [&ok](std::exception_ptr e, core::Result<VerifiedToken> r) {
                     if (!e && r) ++ok;
                   });
  }
  io.run();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(v->GetStats().jwks_fetches, 2U);
  EXPECT_EQ(fetcher_.Count(), 3);
}

TEST_F(OidcVerifierTest, ExpiryHonoursLeeway) {
  auto v = MakeStarted();
  json::object within = Claims();
  within["exp"] = Now() - 20;  // leeway 30 s
  EXPECT_TRUE(Verify(*v, Sign(within)).has_value());
  json::object beyond = Claims();
  beyond["exp"] = Now() - 31;
  ExpectRefusedWithoutFetch(*v, Sign(beyond), "expired beyond leeway");
  json::object no_exp = Claims();
  no_exp.erase("exp");
  ExpectRefusedWithoutFetch(*v, Sign(no_exp), "no exp");
  json::object text_exp = Claims();
  text_exp["exp"] = "tomorrow";
  ExpectRefusedWithoutFetch(*v, Sign(text_exp), "exp not a number");
}

TEST_F(OidcVerifierTest, FutureNbfAndIatAreRefused) {
  auto v = MakeStarted();
  json::object nbf = Claims();
  nbf["nbf"] = Now() + 120;
  ExpectRefusedWithoutFetch(*v, Sign(nbf), "future nbf");
  json::object iat = Claims();
  iat["iat"] = Now() + 120;
  ExpectRefusedWithoutFetch(*v, Sign(iat), "future iat");
  json::object skewed = Claims();
  skewed["nbf"] = Now() + 20;  // within leeway
  EXPECT_TRUE(Verify(*v, Sign(skewed)).has_value());
}

TEST_F(OidcVerifierTest, WrongIssuerAndAudienceAreRefused) {
  auto v = MakeStarted();
  json::object iss = Claims();
  iss["iss"] = idp_.Issuer() + "/";
  ExpectRefusedWithoutFetch(*v, Sign(iss), "wrong iss");
  json::object aud = Claims();
  aud["aud"] = "someone-else";
  ExpectRefusedWithoutFetch(*v, Sign(aud), "wrong aud");
  json::object no_aud = Claims();
  no_aud.erase("aud");
  ExpectRefusedWithoutFetch(*v, Sign(no_aud), "no aud");
  json::object aud_list = Claims();
  aud_list["aud"] = json::array{"account", kAudience};
  EXPECT_TRUE(Verify(*v, Sign(aud_list)).has_value());
}

TEST_F(OidcVerifierTest, IdAndRefreshTokensAreNotAccessTokens) {
  auto v = MakeStarted();
  // The built-in issuer's ID token: typ JWT, not at+jwt.
  ExpectRefusedWithoutFetch(*v, Sign(Claims(), "JWT"), "ID token (typ JWT)");
  ExpectRefusedWithoutFetch(*v, Sign(Claims(), ""), "no typ");
  json::object refresh = Claims();
  refresh["typ"] = "Refresh";
  ExpectRefusedWithoutFetch(*v, Sign(refresh, "JWT"), "refresh token");
  json::object id = Claims();
  id["typ"] = "ID";
  ExpectRefusedWithoutFetch(*v, Sign(id), "typ claim ID under at+jwt");
}

TEST_F(OidcVerifierTest, KeycloakStyleTokensUseTheTypClaim) {
  settings_.accepted_typ = {"JWT", "at+jwt"};
  auto v = MakeStarted();
  json::object bearer = Claims();
  bearer["typ"] = "Bearer";
  bearer.erase("name");
  bearer["preferred_username"] = "ada";
  auto ok = Verify(*v, Sign(bearer, "JWT"));
  ASSERT_TRUE(ok.has_value()) << ok.error().internal;
  EXPECT_EQ(ok->name, "ada");
  json::object id = Claims();
  id["typ"] = "ID";
  ExpectRefusedWithoutFetch(*v, Sign(id, "JWT"), "Keycloak ID token");
  json::object refresh = Claims();
  refresh["typ"] = "Refresh";
  ExpectRefusedWithoutFetch(*v, Sign(refresh, "JWT"), "Keycloak refresh token");
  ExpectRefusedWithoutFetch(*v, Sign(Claims(), "dpop+jwt"), "another typ");
}

TEST_F(OidcVerifierTest, OneFlippedSignatureBitIsRefused) {
  auto v = MakeStarted();
  const std::string token = Sign(Claims());
  auto sig = Base64UrlDecode(token.substr(token.rfind('.') + 1)).value();
  sig[63] = static_cast<char>(sig[63] ^ 0x80);
  ExpectRefusedWithoutFetch(*v, token.substr(0, token.rfind('.') + 1) + Base64UrlEncode(sig),
                            "flipped bit");
  EXPECT_EQ(v->GetStats().signature_checks, 1U);
}

TEST_F(OidcVerifierTest, DiscoveryIssuerMustMatchExactly) {
  idp_.SetDiscoveryIssuer(idp_.Issuer() + "/");
  auto v = Make();
  auto started = RunSync(v->Start());
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(started.error().internal.find("issuer"), std::string::npos);
  clock_.Advance(31s);
  auto result = Verify(*v, Sign(Claims()));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(v->GetStats().jwks_fetches, 0U);
}

TEST_F(OidcVerifierTest, UnreachableIssuerIsUnauthenticated) {
  settings_.issuer = "http://127.0.0.1:1";
  auto v = Make();
  auto result = Verify(*v, Sign(Claims()));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(v->GetStats().discovery_fetches, 1U);
}

TEST_F(OidcVerifierTest, CreateRefusesUnsafeSettings) {
  OidcVerifierSettings s = settings_;
  s.leeway = 61s;
  EXPECT_FALSE(OidcVerifier::Create(s, fetcher_, clock_).has_value());
  s = settings_;
  s.allowed_algs = {"ES256", "HS256"};
  EXPECT_FALSE(OidcVerifier::Create(s, fetcher_, clock_).has_value());
  s = settings_;
  s.audience.clear();
  EXPECT_FALSE(OidcVerifier::Create(s, fetcher_, clock_).has_value());
  s = settings_;
  s.issuer = "issuer";
  EXPECT_FALSE(OidcVerifier::Create(s, fetcher_, clock_).has_value());
  s = settings_;
  s.accepted_typ.clear();
  EXPECT_FALSE(OidcVerifier::Create(s, fetcher_, clock_).has_value());
  EXPECT_TRUE(OidcVerifier::Create(settings_, fetcher_, clock_).has_value());
}

TEST_F(OidcVerifierTest, FunctionFetcherServesDocumentsInProcess) {
  const std::string issuer = "https://id.internal";
  int calls = 0;
  FunctionFetcher in_process(
      [&](std::string url,
          core::Clock::MonoTime) -> asio::awaitable<core::Result<http::ClientResponse>> {
        ++calls;
        http::ClientResponse res;
        res.status = 200;
        if (url == issuer + "/.well-known/openid-configuration") {
          res.body = R"({"issuer":"https://id.internal","jwks_uri":"https://id.internal/jwks"})";
        } else if (url == issuer + "/jwks") {
          res.body = JwksJson({key_->PublicJwkJson()});
        } else {
          res.status = 404;
        }
        co_return res;
      });
  settings_.issuer = issuer;
  auto v = OidcVerifier::Create(settings_, in_process, clock_).value();
  json::object claims = Claims();
  claims["iss"] = issuer;
  auto token = Verify(*v, Sign(claims));
  ASSERT_TRUE(token.has_value()) << token.error().internal;
  EXPECT_EQ(token->issuer, issuer);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(fetcher_.Count(), 0);
}

}  // namespace
}  // namespace trellis::platform::auth
