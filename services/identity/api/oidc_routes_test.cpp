// The whole issuer over HTTP: a real platform/http Server on 127.0.0.1 port 0, a real SQLite
// file, and a Beast client that acts as the browser and as the relying party.
#include "services/identity/api/oidc_routes.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <map>
#include <optional>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "services/identity/api/console_routes.hpp"
#include "services/identity/api/oidc_form.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::identity::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;

constexpr const char* kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
constexpr const char* kRedirect = "http://127.0.0.1:3000/callback";
constexpr const char* kIssuer = "http://127.0.0.1:8080";

using ::trellis::platform::ports::RunSync;

struct Reply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  [[nodiscard]] std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  // The value a Set-Cookie header gives `name`, or nullopt when none sets it.
  [[nodiscard]] std::optional<std::string> SetCookie(const std::string& name) const {
    auto [from, to] = headers.equal_range("set-cookie");
    for (auto it = from; it != to; ++it) {
      if (it->second.starts_with(name + "=")) {
        const auto& v = it->second;
        return v.substr(name.size() + 1, v.find(';') - name.size() - 1);
      }
    }
    return std::nullopt;
  }
  [[nodiscard]] json::object Json() const { return json::parse(body).as_object(); }
};

// A browser-ish cookie jar (one host, paths ignored) and a one-request-per-connection client.
class Client {
 public:
  explicit Client(std::uint16_t port) : port_(port) {}

  Reply Send(bhttp::verb verb, const std::string& target, const std::string& body = {},
             const std::string& content_type = {}, const std::string& bearer = {}) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    bhttp::request<bhttp::string_body> req(verb, target, 11);
    req.set(bhttp::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
    if (!bearer.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer);
    std::string cookies;
    for (const auto& [k, v] : jar_) cookies += (cookies.empty() ? "" : "; ") + k + "=" + v;
    if (!cookies.empty()) req.set(bhttp::field::cookie, cookies);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(socket, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    Reply out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& h : res) {
      std::string name(h.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace(name, std::string(h.value()));
    }
    out.body = res.body();
    // Cookies: set, or dropped when emptied.
    auto [from, to] = out.headers.equal_range("set-cookie");
    for (auto it = from; it != to; ++it) {
      const auto& v = it->second;
      const auto eq = v.find('=');
      const auto name = v.substr(0, eq);
      const auto value = v.substr(eq + 1, v.find(';') - eq - 1);
      if (value.empty()) {
        jar_.erase(name);
      } else {
        jar_[name] = value;
      }
    }
    return out;
  }
  Reply Get(const std::string& target, const std::string& bearer = {}) {
    return Send(bhttp::verb::get, target, {}, {}, bearer);
  }
  Reply PostForm(const std::string& target, const FormFields& form) {
    return Send(bhttp::verb::post, target, WithQuery("", form).substr(1),
                "application/x-www-form-urlencoded");
  }
  std::map<std::string, std::string>& Jar() { return jar_; }

 private:
  std::uint16_t port_;
  std::map<std::string, std::string> jar_;
};

std::string HiddenValue(const std::string& html, const std::string& name) {
  const std::string marker = "name=\"" + name + "\" value=\"";
  const auto at = html.find(marker);
  if (at == std::string::npos) return {};
  const auto start = at + marker.size();
  return html.substr(start, html.find('"', start) - start);
}

// The query of a Location header, parsed.
FormFields LocationQuery(const Reply& r) {
  const auto location = r.Header("location");
  const auto q = location.find('?');
  return q == std::string::npos ? FormFields{} : ParseForm(location.substr(q + 1));
}

class OidcRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = adapters::sqlite::SqliteStore::Open({.path = tmp_.Path() / "identity.db"}, clock_,
                                                      registry_);
    ASSERT_TRUE(opened.has_value());
    store_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_IDENTITY_MIGRATIONS);
    ASSERT_TRUE(migrations.has_value());
    ASSERT_TRUE(RunSync(platform::store::Migrate(*store_, *migrations, clock_, {})).has_value());

    app::OidcSettings s;
    s.issuer = kIssuer;
    domain::OidcClient web;
    web.id = "web";
    web.redirect_uris = {kRedirect};
    web.post_logout_redirect_uris = {"http://127.0.0.1:3000/"};
    s.clients = {web};
    s.password_hashing = {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
    auto issuer = app::OidcIssuer::Create(s, *store_, clock_, ids_);
    ASSERT_TRUE(issuer.has_value());
    issuer_ = std::move(*issuer);
    ASSERT_TRUE(RunSync(issuer_->Start()).has_value());

    AddOidcRoutes(router_, *issuer_);
    AddConsoleRoutes(router_, *issuer_);
    platform::http::ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    server_ = std::make_unique<platform::http::Server>(
        settings, router_, platform::http::MiddlewareChain{}, registry_, clock_, ids_);
    ASSERT_TRUE(server_->Start().has_value());
    client_ = std::make_unique<Client>(server_->Port());
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown();
      server_->Wait();
    }
    server_.reset();
    issuer_.reset();
    store_.reset();
  }

  static FormFields AuthorizeQuery() {
    return {{"client_id", "web"},
            {"redirect_uri", kRedirect},
            {"response_type", "code"},
            {"scope", "openid email profile"},
            {"state", "xyz"},
            {"nonce", "n1"},
            {"code_challenge", kChallenge},
            {"code_challenge_method", "S256"}};
  }
  static std::string AuthorizeTarget() { return WithQuery("/oidc/authorize", AuthorizeQuery()); }

  // Loads the sign-in page and posts the sign-up form from it.
  Reply SignUp(const std::string& email, const std::string& password) {
    const auto page = client_->Get(AuthorizeTarget());
    EXPECT_EQ(page.status, 200);
    auto form = AuthorizeQuery();
    form.emplace_back("csrf", HiddenValue(page.body, "csrf"));
    form.emplace_back("action", "sign_up");
    form.emplace_back("email", email);
    form.emplace_back("name", "Ada <Lovelace>");
    form.emplace_back("password", password);
    return client_->PostForm("/oidc/authorize", form);
  }

  Reply Token(const FormFields& form) { return client_->PostForm("/oidc/token", form); }

  tests::support::TempDir tmp_;
  const platform::core::SystemClock& clock_ = platform::core::SystemClock::Instance();
  platform::core::UuidV7Generator ids_{clock_};
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
  std::unique_ptr<app::OidcIssuer> issuer_;
  platform::http::Router router_;
  std::unique_ptr<platform::http::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(OidcRoutesTest, DiscoveryAndJwks) {
  auto d = client_->Get("/.well-known/openid-configuration");
  ASSERT_EQ(d.status, 200);
  auto doc = d.Json();
  EXPECT_EQ(doc.at("issuer").as_string(), kIssuer);
  EXPECT_EQ(doc.at("token_endpoint").as_string(), std::string(kIssuer) + "/oidc/token");
  EXPECT_EQ(doc.at("code_challenge_methods_supported").as_array(), json::array{"S256"});
  EXPECT_EQ(doc.at("id_token_signing_alg_values_supported").as_array(), json::array{"ES256"});
  EXPECT_EQ(doc.at("token_endpoint_auth_methods_supported").as_array(), json::array{"none"});
  auto jwks = client_->Get("/oidc/jwks");
  ASSERT_EQ(jwks.status, 200);
  const auto set = jwks.Json();
  const auto& key = set.at("keys").as_array().at(0).as_object();
  EXPECT_EQ(key.at("kty").as_string(), "EC");
  EXPECT_EQ(key.at("alg").as_string(), "ES256");
  EXPECT_FALSE(key.contains("d"));  // never the private part
}

TEST_F(OidcRoutesTest, AuthorizeErrorsAboutTheClientStayOnThePage) {
  auto q = AuthorizeQuery();
  q[1].second = "https://evil.example/cb";
  auto r = client_->Get(WithQuery("/oidc/authorize", q));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.Header("location").empty());
  EXPECT_NE(r.body.find("redirect_uri is not registered"), std::string::npos);

  q = AuthorizeQuery();
  q[7].second = "plain";
  r = client_->Get(WithQuery("/oidc/authorize", q));
  EXPECT_EQ(r.status, 302);
  const auto back = LocationQuery(r);
  EXPECT_EQ(FormValue(back, "error"), "invalid_request");
  EXPECT_EQ(FormValue(back, "state"), "xyz");
  EXPECT_TRUE(r.Header("location").starts_with(kRedirect));
}

TEST_F(OidcRoutesTest, TheSignInPageNeedsItsCsrfToken) {
  const auto page = client_->Get(AuthorizeTarget());
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.Header("content-security-policy").find("default-src 'none'"), std::string::npos);
  ASSERT_TRUE(page.SetCookie("trellis_csrf").has_value());
  auto form = AuthorizeQuery();
  form.emplace_back("csrf", "forged");
  form.emplace_back("action", "sign_in");
  form.emplace_back("email", "a@example.com");
  form.emplace_back("password", "whatever whatever");
  EXPECT_EQ(client_->PostForm("/oidc/authorize", form).status, 403);
}

TEST_F(OidcRoutesTest, WholeFlowSignUpCodeTokensUserInfoRefreshAndReuse) {
  // Sign up through the form; the browser is sent back with a code and the state.
  const auto signed_up = SignUp("Ada@Example.com", "correct horse battery");
  ASSERT_EQ(signed_up.status, 303) << signed_up.body;
  const auto location = signed_up.Header("location");
  EXPECT_TRUE(location.starts_with(std::string(kRedirect) + "?code=")) << location;
  const auto back = LocationQuery(signed_up);
  EXPECT_EQ(FormValue(back, "state"), "xyz");
  const auto code = FormValue(back, "code");
  ASSERT_FALSE(code.empty());
  const auto session = signed_up.SetCookie("trellis_session");
  ASSERT_TRUE(session.has_value());
  auto set_cookie = signed_up.headers.equal_range("set-cookie");
  for (auto it = set_cookie.first; it != set_cookie.second; ++it) {
    if (it->second.starts_with("trellis_session=")) {
      EXPECT_NE(it->second.find("HttpOnly"), std::string::npos);
      EXPECT_NE(it->second.find("SameSite=Lax"), std::string::npos);
      EXPECT_NE(it->second.find("Path=/oidc"), std::string::npos);
    }
  }

  // The relying party exchanges the code with its verifier.
  const auto tokens = Token({{"grant_type", "authorization_code"},
                             {"code", code},
                             {"redirect_uri", kRedirect},
                             {"client_id", "web"},
                             {"code_verifier", kVerifier}});
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  EXPECT_EQ(tokens.Header("cache-control"), "no-store");
  const auto t = tokens.Json();
  EXPECT_EQ(t.at("token_type").as_string(), "Bearer");
  const std::string access(t.at("access_token").as_string());
  const std::string refresh(t.at("refresh_token").as_string());
  ASSERT_TRUE(t.contains("id_token"));

  // The same code again: invalid_grant.
  const auto replay = Token({{"grant_type", "authorization_code"},
                             {"code", code},
                             {"redirect_uri", kRedirect},
                             {"client_id", "web"},
                             {"code_verifier", kVerifier}});
  EXPECT_EQ(replay.status, 400);
  EXPECT_EQ(replay.Json().at("error").as_string(), "invalid_grant");

  // userinfo with the access token.
  const auto me = client_->Get("/oidc/userinfo", access);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Json().at("email").as_string(), "ada@example.com");
  EXPECT_EQ(me.Json().at("name").as_string(), "Ada <Lovelace>");
  EXPECT_EQ(client_->Get("/oidc/userinfo").status, 401);
  EXPECT_EQ(client_->Get("/oidc/userinfo", "x.y.z").Header("www-authenticate"),
            R"(Bearer error="invalid_token")");

  // The replay above revoked the family, so start a fresh grant through the live session:
  // no page this time, the code comes at once.
  const auto again = client_->Get(AuthorizeTarget());
  ASSERT_EQ(again.status, 302);
  const auto code2 = FormValue(LocationQuery(again), "code");
  const auto tokens2 = Token({{"grant_type", "authorization_code"},
                              {"code", code2},
                              {"redirect_uri", kRedirect},
                              {"client_id", "web"},
                              {"code_verifier", kVerifier}});
  ASSERT_EQ(tokens2.status, 200);
  const std::string refresh1(tokens2.Json().at("refresh_token").as_string());
  EXPECT_EQ(
      Token({{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "web"}})
          .status,
      400);  // the replayed code's family is dead

  // Refresh rotates.
  const auto rotated =
      Token({{"grant_type", "refresh_token"}, {"refresh_token", refresh1}, {"client_id", "web"}});
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string refresh2(rotated.Json().at("refresh_token").as_string());
  EXPECT_NE(refresh2, refresh1);
  EXPECT_EQ(
      client_->Get("/oidc/userinfo", std::string(rotated.Json().at("access_token").as_string()))
          .status,
      200);

  // Reusing the rotated-away token: invalid_grant, and the newest token is dead too.
  const auto reuse =
      Token({{"grant_type", "refresh_token"}, {"refresh_token", refresh1}, {"client_id", "web"}});
  EXPECT_EQ(reuse.status, 400);
  EXPECT_EQ(reuse.Json().at("error").as_string(), "invalid_grant");
  const auto dead =
      Token({{"grant_type", "refresh_token"}, {"refresh_token", refresh2}, {"client_id", "web"}});
  EXPECT_EQ(dead.status, 400);
  EXPECT_EQ(dead.Json().at("error").as_string(), "invalid_grant");

  // Sign out: the cookie is cleared and the session no longer yields codes.
  const auto out = client_->Get(
      WithQuery("/oidc/end-session", {{"client_id", "web"},
                                      {"post_logout_redirect_uri", "http://127.0.0.1:3000/"},
                                      {"state", "bye"}}));
  EXPECT_EQ(out.status, 302);
  EXPECT_EQ(out.Header("location"), "http://127.0.0.1:3000/?state=bye");
  EXPECT_EQ(client_->Jar().count("trellis_session"), 0U);
  EXPECT_EQ(client_->Get(AuthorizeTarget()).status, 200);  // the sign-in page again
}

TEST_F(OidcRoutesTest, TokenEndpointErrorsAreRfc6749Json) {
  auto r = Token({{"grant_type", "password"}, {"client_id", "web"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json().at("error").as_string(), "unsupported_grant_type");
  r = Token({{"grant_type", "authorization_code"},
             {"client_id", "nobody"},
             {"code", "c"},
             {"redirect_uri", kRedirect},
             {"code_verifier", kVerifier}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json().at("error").as_string(), "invalid_client");
  r = client_->Send(bhttp::verb::post, "/oidc/token", "{}", "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json().at("error").as_string(), "invalid_request");
}

TEST_F(OidcRoutesTest, SignInFailuresReRenderTheFormWithOneMessage) {
  ASSERT_EQ(SignUp("bob@example.com", "correct horse battery").status, 303);
  client_->Jar().erase("trellis_session");
  const auto taken = SignUp("bob@example.com", "another long password");
  EXPECT_EQ(taken.status, 409);
  EXPECT_NE(taken.body.find("already exists"), std::string::npos);

  const auto page = client_->Get(AuthorizeTarget());
  auto form = AuthorizeQuery();
  form.emplace_back("csrf", HiddenValue(page.body, "csrf"));
  form.emplace_back("action", "sign_in");
  form.emplace_back("email", "bob@example.com");
  form.emplace_back("password", "wrong password!");
  const auto wrong = client_->PostForm("/oidc/authorize", form);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("Wrong email or password."), std::string::npos);
  form.back().second = "correct horse battery";
  form[form.size() - 2].second = "nobody@example.com";
  const auto unknown = client_->PostForm("/oidc/authorize", form);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_NE(unknown.body.find("Wrong email or password."), std::string::npos);
  form[form.size() - 2].second = "bob@example.com";
  const auto ok = client_->PostForm("/oidc/authorize", form);
  EXPECT_EQ(ok.status, 303);
}

TEST_F(OidcRoutesTest, ConsoleSignsInAndShowsTheToken) {
  ASSERT_EQ(SignUp("carol@example.com", "correct horse battery").status, 303);
  const auto start = client_->Get("/console");
  ASSERT_EQ(start.status, 302);
  EXPECT_TRUE(start.Header("location").starts_with("/oidc/authorize?client_id=trellis-console"));
  ASSERT_TRUE(start.SetCookie("trellis_console").has_value());
  // The browser follows; the live issuer session answers with a code at once.
  const auto authorize = client_->Get(start.Header("location"));
  ASSERT_EQ(authorize.status, 302) << authorize.body;
  const auto callback = authorize.Header("location");
  ASSERT_TRUE(callback.starts_with(std::string(kIssuer) + "/console/callback?")) << callback;
  const auto page = client_->Get(callback.substr(std::string(kIssuer).size()));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("/api/v1/orgs"), std::string::npos);
  const auto token_at = page.body.find("<pre id=\"token\">");
  ASSERT_NE(token_at, std::string::npos);
  const auto start_of_token = token_at + std::string("<pre id=\"token\">").size();
  const std::string token =
      page.body.substr(start_of_token, page.body.find('<', start_of_token) - start_of_token);
  EXPECT_EQ(client_->Get("/oidc/userinfo", token).status, 200);
  // A second callback with the same code and no console cookie is refused.
  EXPECT_EQ(client_->Get(callback.substr(std::string(kIssuer).size())).status, 400);
}

}  // namespace
}  // namespace trellis::identity::api
