// The issuer's use cases against a real SQLite file with both identity migrations applied, and
// a ManualClock for every expiry and for key rotation.
#include "services/identity/app/oidc_issuer.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <optional>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/auth/jwt.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::identity::app {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using platform::core::ErrorCode;
using platform::ports::Awaitable;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;

using ::trellis::platform::ports::RunSync;

// RFC 7636 appendix B.
constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
constexpr const char* kRedirect = "https://app.example/cb";
constexpr const char* kPassword = "a long enough password";

json::object Claims(const std::string& token) {
  auto payload = platform::auth::UnverifiedPayload(token);
  EXPECT_TRUE(payload.has_value());
  return json::parse(payload.value_or("{}")).as_object();
}

std::string Kid(const std::string& token) {
  auto header = platform::auth::ParseJwsHeader(token, {"ES256"});
  EXPECT_TRUE(header.has_value());
  return header ? header->kid : "";
}

class OidcIssuerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = adapters::sqlite::SqliteStore::Open({.path = tmp_.Path() / "identity.db"}, clock_,
                                                      registry_);
    ASSERT_TRUE(opened.has_value()) << opened.error().internal;
    store_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_IDENTITY_MIGRATIONS);
    ASSERT_TRUE(migrations.has_value()) << migrations.error().internal;
    auto migrated = RunSync(platform::store::Migrate(*store_, *migrations, clock_, {}));
    ASSERT_TRUE(migrated.has_value()) << migrated.error().internal;
    issuer_ = NewIssuer();
    ASSERT_NE(issuer_, nullptr);
  }
  void TearDown() override {
    issuer_.reset();
    store_.reset();
  }

  static OidcSettings Settings() {
    OidcSettings s;
    s.issuer = "http://127.0.0.1:8080";
    domain::OidcClient web;
    web.id = "web";
    web.redirect_uris = {kRedirect};
    web.post_logout_redirect_uris = {"https://app.example/bye"};
    domain::OidcClient cli;
    cli.id = "cli";
    cli.redirect_uris = {"http://127.0.0.1:9999/cb"};
    s.clients = {web, cli};
    s.password_hashing = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    return s;
  }

  std::unique_ptr<OidcIssuer> NewIssuer() {
    auto created = OidcIssuer::Create(Settings(), *store_, clock_, ids_);
    EXPECT_TRUE(created.has_value()) << created.error().message;
    if (!created) return nullptr;
    auto started = RunSync((*created)->Start());
    EXPECT_TRUE(started.has_value()) << started.error().internal;
    return std::move(*created);
  }

  domain::AuthorizeParams Params(std::string client = "web",
                                 std::string redirect = kRedirect) const {
    domain::AuthorizeParams p;
    p.client_id = std::move(client);
    p.redirect_uri = std::move(redirect);
    p.response_type = "code";
    p.scope = "openid email";
    p.state = "st";
    p.nonce = "n-0S6";
    p.code_challenge = kChallenge;
    p.code_challenge_method = "S256";
    return p;
  }

  SignedIn SignUp(const std::string& email = "Ada@Example.com") {
    auto r = RunSync(issuer_->SignUp(email, "Ada Lovelace", kPassword, "10.0.0.1"));
    EXPECT_TRUE(r.has_value()) << r.error().message << " " << r.error().internal;
    return r.value_or(SignedIn{});
  }

  std::string Code(const SignedIn& who, std::string client = "web",
                   std::string redirect = kRedirect) {
    auto code =
        RunSync(issuer_->IssueCode(Params(std::move(client), std::move(redirect)), who.session));
    EXPECT_TRUE(code.has_value());
    return code.value_or("");
  }

  OAuthResult<TokenResponse> Exchange(const std::string& code, std::string client = "web",
                                      std::string redirect = kRedirect,
                                      std::string verifier = kVerifier) {
    return RunSync(
        issuer_->ExchangeCode(std::move(client), code, std::move(redirect), std::move(verifier)));
  }

  OAuthResult<TokenResponse> Refresh(const std::string& token, std::string client = "web") {
    return RunSync(issuer_->Refresh(std::move(client), token));
  }

  std::vector<std::string> JwksKids() {
    auto jwks = RunSync(issuer_->JwksJson());
    EXPECT_TRUE(jwks.has_value());
    std::vector<std::string> kids;
    const auto doc = json::parse(jwks.value_or("{\"keys\":[]}"));
    for (const auto& k : doc.at("keys").as_array()) {
      kids.emplace_back(k.at("kid").as_string());
    }
    return kids;
  }

  tests::support::TempDir tmp_;
  platform::core::ManualClock clock_;
  platform::core::UuidV7Generator ids_{clock_};
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
  std::unique_ptr<OidcIssuer> issuer_;
};

TEST_F(OidcIssuerTest, SettingsAreChecked) {
  auto s = Settings();
  s.rotation_overlap = s.access_token_lifetime;  // no room for the leeway
  EXPECT_FALSE(OidcIssuer::Create(s, *store_, clock_, ids_).has_value());
  s = Settings();
  s.issuer = "ftp://x";
  EXPECT_FALSE(OidcIssuer::Create(s, *store_, clock_, ids_).has_value());
  s = Settings();
  s.clients.push_back(s.clients.front());
  EXPECT_FALSE(OidcIssuer::Create(s, *store_, clock_, ids_).has_value());
}

TEST_F(OidcIssuerTest, KeysArePersistedAndReusedAcrossRestarts) {
  const auto kids = JwksKids();
  ASSERT_EQ(kids.size(), 1U);
  auto again = NewIssuer();
  auto jwks = RunSync(again->JwksJson());
  ASSERT_TRUE(jwks.has_value());
  EXPECT_NE(jwks->find(kids.front()), std::string::npos);
}

TEST_F(OidcIssuerTest, CodeExchangeIssuesVerifiableTokens) {
  const auto who = SignUp();
  auto tokens = Exchange(Code(who));
  ASSERT_TRUE(tokens.has_value()) << tokens.error().description;
  EXPECT_EQ(tokens->expires_in, 900);
  EXPECT_EQ(tokens->scope, "openid email");
  EXPECT_EQ(tokens->refresh_token.size(), 43U);

  auto header = platform::auth::ParseJwsHeader(tokens->access_token, {"ES256"});
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->typ, "at+jwt");
  auto at = Claims(tokens->access_token);
  EXPECT_EQ(at.at("iss").as_string(), "http://127.0.0.1:8080");
  EXPECT_EQ(at.at("sub").as_string(), who.session.user_id);
  EXPECT_EQ(at.at("aud").as_string(), "trellis-api");
  EXPECT_EQ(at.at("client_id").as_string(), "web");
  EXPECT_EQ(at.at("email").as_string(), "ada@example.com");
  EXPECT_EQ(at.at("name").as_string(), "Ada Lovelace");
  EXPECT_EQ(at.at("exp").as_int64() - at.at("iat").as_int64(), 900);
  EXPECT_TRUE(at.contains("jti"));

  auto id = Claims(tokens->id_token);
  EXPECT_EQ(id.at("aud").as_string(), "web");
  EXPECT_EQ(id.at("nonce").as_string(), "n-0S6");
  EXPECT_TRUE(id.contains("auth_time"));
  EXPECT_EQ(platform::auth::ParseJwsHeader(tokens->id_token, {"ES256"})->typ, "JWT");

  auto verified = issuer_->VerifyAccessToken(tokens->access_token);
  ASSERT_TRUE(verified.has_value()) << verified.error().internal;
  EXPECT_EQ(verified->sub, who.session.user_id);
  // An ID token is not an access token.
  EXPECT_FALSE(issuer_->VerifyAccessToken(tokens->id_token).has_value());
}

TEST_F(OidcIssuerTest, CodeIsSingleUseAndReplayRevokesWhatItGranted) {
  const auto code = Code(SignUp());
  auto first = Exchange(code);
  ASSERT_TRUE(first.has_value());
  auto second = Exchange(code);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().error, "invalid_grant");
  EXPECT_EQ(second.error().status, 400);
  // The refresh token from the first exchange died with the replay.
  auto refreshed = Refresh(first->refresh_token);
  ASSERT_FALSE(refreshed.has_value());
  EXPECT_EQ(refreshed.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, CodeExpiresAfterSixtySeconds) {
  const auto who = SignUp();
  const auto fresh = Code(who);
  const auto stale = Code(who);
  clock_.Advance(59s);
  EXPECT_TRUE(Exchange(fresh).has_value());
  clock_.Advance(1s);
  auto late = Exchange(stale);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, RedirectUriClientAndVerifierMustMatch) {
  const auto who = SignUp();
  const auto code = Code(who);
  auto wrong_redirect = Exchange(code, "web", "https://app.example/other");
  ASSERT_FALSE(wrong_redirect.has_value());
  EXPECT_EQ(wrong_redirect.error().error, "invalid_grant");
  auto wrong_client = Exchange(code, "cli");
  ASSERT_FALSE(wrong_client.has_value());
  EXPECT_EQ(wrong_client.error().error, "invalid_grant");
  auto wrong_verifier = Exchange(code, "web", kRedirect, std::string(43, 'x'));
  ASSERT_FALSE(wrong_verifier.has_value());
  EXPECT_EQ(wrong_verifier.error().error, "invalid_grant");
  auto unknown_client = Exchange(code, "nobody");
  ASSERT_FALSE(unknown_client.has_value());
  EXPECT_EQ(unknown_client.error().error, "invalid_client");
  EXPECT_EQ(unknown_client.error().status, 401);
  // None of the failures used the code up.
  EXPECT_TRUE(Exchange(code).has_value());
}

TEST_F(OidcIssuerTest, RefreshRotatesAndReuseRevokesTheFamily) {
  auto tokens = Exchange(Code(SignUp()));
  ASSERT_TRUE(tokens.has_value());
  auto second = Refresh(tokens->refresh_token);
  ASSERT_TRUE(second.has_value()) << second.error().description;
  EXPECT_NE(second->refresh_token, tokens->refresh_token);
  EXPECT_TRUE(issuer_->VerifyAccessToken(second->access_token).has_value());
  auto third = Refresh(second->refresh_token);
  ASSERT_TRUE(third.has_value());

  // The first token was rotated away: presenting it again kills the whole family.
  auto reused = Refresh(tokens->refresh_token);
  ASSERT_FALSE(reused.has_value());
  EXPECT_EQ(reused.error().error, "invalid_grant");
  auto latest = Refresh(third->refresh_token);
  ASSERT_FALSE(latest.has_value());
  EXPECT_EQ(latest.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, RefreshTokenBelongsToItsClientAndExpires) {
  auto tokens = Exchange(Code(SignUp()));
  ASSERT_TRUE(tokens.has_value());
  auto other = Refresh(tokens->refresh_token, "cli");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().error, "invalid_grant");
  clock_.Advance(std::chrono::hours(24 * 30));
  auto late = Refresh(tokens->refresh_token);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, UserInfoNeedsALiveAccessToken) {
  const auto who = SignUp();
  auto tokens = Exchange(Code(who));
  ASSERT_TRUE(tokens.has_value());
  auto user = RunSync(issuer_->UserInfo(tokens->access_token));
  ASSERT_TRUE(user.has_value());
  EXPECT_EQ(user->id, who.session.user_id);
  EXPECT_EQ(user->email, "ada@example.com");
  EXPECT_EQ(user->name, "Ada Lovelace");

  auto garbage = RunSync(issuer_->UserInfo("not.a.token"));
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().code, ErrorCode::kUnauthenticated);

  // A byte flipped in the signature.
  std::string forged = tokens->access_token;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(RunSync(issuer_->UserInfo(forged)).has_value());

  clock_.Advance(15min + 60s - 1s);  // exp + leeway not reached yet
  EXPECT_TRUE(RunSync(issuer_->UserInfo(tokens->access_token)).has_value());
  clock_.Advance(1s);
  auto expired = RunSync(issuer_->UserInfo(tokens->access_token));
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(OidcIssuerTest, EndSessionEndsTheSessionAndRevokesItsRefreshTokens) {
  const auto who = SignUp();
  auto tokens = Exchange(Code(who));
  ASSERT_TRUE(tokens.has_value());
  ASSERT_TRUE(RunSync(issuer_->FindSession(who.cookie))->has_value());

  EndSessionRequest bad;
  bad.session_cookie = who.cookie;
  bad.client_id = "web";
  bad.post_logout_redirect_uri = "https://evil.example/";
  auto refused = RunSync(issuer_->EndSession(bad));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(RunSync(issuer_->FindSession(who.cookie))->has_value());  // untouched

  EndSessionRequest end;
  end.session_cookie = who.cookie;
  end.id_token_hint = tokens->id_token;
  end.post_logout_redirect_uri = "https://app.example/bye";  // client taken from the hint
  auto redirect = RunSync(issuer_->EndSession(end));
  ASSERT_TRUE(redirect.has_value()) << redirect.error().message;
  EXPECT_EQ(*redirect, "https://app.example/bye");
  EXPECT_FALSE(RunSync(issuer_->FindSession(who.cookie))->has_value());
  auto refreshed = Refresh(tokens->refresh_token);
  ASSERT_FALSE(refreshed.has_value());
  EXPECT_EQ(refreshed.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, ACodeDiesWithItsSession) {
  const auto who = SignUp();
  const auto code = Code(who);
  EndSessionRequest end;
  end.session_cookie = who.cookie;
  ASSERT_TRUE(RunSync(issuer_->EndSession(end)).has_value());
  auto late = Exchange(code);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().error, "invalid_grant");
}

TEST_F(OidcIssuerTest, SignInChecksThePasswordAndThrottlesFailures) {
  SignUp();
  auto ok = RunSync(issuer_->SignIn("ADA@example.com", kPassword, "10.0.0.2"));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_FALSE(ok->cookie.empty());

  auto wrong = RunSync(issuer_->SignIn("ada@example.com", "not the password", "10.0.0.2"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated);
  auto unknown = RunSync(issuer_->SignIn("bob@example.com", "not the password", "10.0.0.2"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().message, wrong.error().message);  // no account enumeration

  for (int i = 0; i < 4; ++i) {
    (void)RunSync(issuer_->SignIn("ada@example.com", "still wrong", "10.0.0.3"));
  }
  auto locked = RunSync(issuer_->SignIn("ada@example.com", kPassword, "10.0.0.4"));
  ASSERT_FALSE(locked.has_value());
  EXPECT_EQ(locked.error().code, ErrorCode::kResourceExhausted);
  clock_.Advance(15min);
  EXPECT_TRUE(RunSync(issuer_->SignIn("ada@example.com", kPassword, "10.0.0.4")).has_value());
}

TEST_F(OidcIssuerTest, SignUpRefusesATakenEmailAndWeakInput) {
  SignUp();
  auto again = RunSync(issuer_->SignUp("ada@EXAMPLE.com", "Other", kPassword, "10.0.0.5"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  auto short_pw = RunSync(issuer_->SignUp("b@example.com", "B", "123456789", "10.0.0.5"));
  ASSERT_FALSE(short_pw.has_value());
  EXPECT_EQ(short_pw.error().code, ErrorCode::kValidation);
  auto bad_email = RunSync(issuer_->SignUp("b-at-example", "B", kPassword, "10.0.0.5"));
  ASSERT_FALSE(bad_email.has_value());
  EXPECT_EQ(bad_email.error().code, ErrorCode::kValidation);

  // The user and its identity row exist once, under the built-in issuer.
  std::int64_t identities = -1;
  auto counted = RunSync(
      store_->Transact(TransactionOptions().ReadOnly(), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto r = co_await tx.Execute(
            "SELECT count(*) AS n FROM user_identities WHERE issuer = 'http://127.0.0.1:8080'");
        if (!r) co_return std::unexpected(r.error());
        identities = r->rows.front().Get<std::int64_t>("n").value_or(-1);
        co_return platform::core::Result<void>();
      }));
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(identities, 1);
}

TEST_F(OidcIssuerTest, SignUpActivatesTheEmailsPendingMemberships) {
  auto seeded =
      RunSync(store_->Transact(TransactionOptions(), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto org = co_await tx.Execute(
            "INSERT INTO orgs (id, slug, name, created_by, created_at_ms, updated_at_ms, version) "
            "VALUES ('o1', 'acme', 'Acme', 'u0', 1, 1, 1)");
        if (!org) co_return std::unexpected(org.error());
        co_return platform::ports::Void(co_await tx.Execute(
            "INSERT INTO memberships (org_id, id, user_id, email, role, status, invited_by, "
            "created_at_ms, updated_at_ms, version) "
            "VALUES ('o1', 'm1', NULL, 'grace@example.com', 'member', 'pending', 'u0', 1, 1, 1)"));
      }));
  ASSERT_TRUE(seeded.has_value()) << seeded.error().internal;
  const auto who = SignUp("Grace@Example.com");
  std::string status;
  std::string user_id;
  auto read = RunSync(
      store_->Transact(TransactionOptions().ReadOnly(), [&](SqlTransaction& tx) -> Awaitable<void> {
        auto r = co_await tx.Execute(
            "SELECT status, user_id FROM memberships WHERE org_id = 'o1' AND id = 'm1'");
        if (!r) co_return std::unexpected(r.error());
        status = r->rows.front().Get<std::string>("status").value_or("");
        user_id = r->rows.front().Get<std::string>("user_id").value_or("");
        co_return platform::core::Result<void>();
      }));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(status, "active");
  EXPECT_EQ(user_id, who.session.user_id);
}

TEST_F(OidcIssuerTest, KeyRotationKeepsTheOldKeyPublishedThroughTheOverlap) {
  const auto who = SignUp();
  const auto first_kids = JwksKids();
  ASSERT_EQ(first_kids.size(), 1U);

  // A token signed five minutes before the rotation is due.
  clock_.Advance(std::chrono::hours(24 * 30) - 5min);
  auto before = Exchange(Code(who));
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(Kid(before->access_token), first_kids.front());

  clock_.Advance(5min);
  ASSERT_TRUE(RunSync(issuer_->MaintainKeys()).has_value());
  auto kids = JwksKids();
  ASSERT_EQ(kids.size(), 2U);
  EXPECT_NE(kids.front(), first_kids.front());  // the new key, newest first
  EXPECT_EQ(kids.back(), first_kids.front());
  // The old key's token still verifies; new tokens use the new key.
  EXPECT_TRUE(issuer_->VerifyAccessToken(before->access_token).has_value());
  auto after = Exchange(Code(who));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(Kid(after->access_token), kids.front());

  // A restarted issuer sees the same two keys.
  EXPECT_EQ(JwksKids(), kids);
  auto restarted = NewIssuer();
  EXPECT_TRUE(restarted->VerifyAccessToken(after->access_token).has_value());

  // After the overlap only the new key is published.
  clock_.Advance(std::chrono::hours(24));
  const auto final_kids = JwksKids();
  ASSERT_EQ(final_kids.size(), 1U);
  EXPECT_EQ(final_kids.front(), kids.front());
}

}  // namespace
}  // namespace trellis::identity::app
