#include "services/identity/api/oidc_routes.hpp"

#include <utility>

#include "platform/core/log.hpp"
#include "services/identity/api/oidc_form.hpp"
#include "services/identity/api/oidc_pages.hpp"

namespace trellis::identity::api {

namespace asio = boost::asio;
namespace http = platform::http;
namespace core = platform::core;
using app::OidcIssuer;
using core::ErrorCode;
using http::Method;
using http::Request;
using http::Response;

namespace {

constexpr int kCsrfCookieMaxAge = 3600;

Response Page(int status, std::string html) {
  return Response::Text(status, std::move(html), http::kTextHtml)
      .With("Cache-Control", "no-store")
      .With("Content-Security-Policy", kPageCsp)
      .With("X-Frame-Options", "DENY")
      .With("Referrer-Policy", "no-referrer");
}

Response Redirect(int status, std::string location) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Location", std::move(location));
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

Response OAuthJson(int status, std::string body) {
  return Response::Json(status, std::move(body))
      .With("Cache-Control", "no-store")
      .With("Pragma", "no-cache");
}

bool Secure(const OidcIssuer& issuer) { return issuer.Settings().issuer.starts_with("https://"); }

CookieOptions OidcCookie(const OidcIssuer& issuer, int max_age) {
  CookieOptions o;
  o.path = "/oidc";
  o.max_age_seconds = max_age;
  o.secure = Secure(issuer);
  return o;
}

bool IsForm(const Request& req) {
  auto type = req.HeaderValue("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return http::EqualsIgnoreCase(type, "application/x-www-form-urlencoded");
}

domain::AuthorizeParams ParamsFrom(const FormFields& f) {
  domain::AuthorizeParams p;
  p.client_id = FormValue(f, "client_id");
  p.redirect_uri = FormValue(f, "redirect_uri");
  p.response_type = FormValue(f, "response_type");
  p.scope = FormValue(f, "scope");
  p.state = FormValue(f, "state");
  p.nonce = FormValue(f, "nonce");
  p.code_challenge = FormValue(f, "code_challenge");
  p.code_challenge_method = FormValue(f, "code_challenge_method");
  return p;
}

bool HasRepeats(const FormFields& f) {
  for (std::string_view name : {"client_id", "redirect_uri", "response_type", "scope", "state",
                                "nonce", "code_challenge", "code_challenge_method"}) {
    if (FormCount(f, name) > 1) return true;
  }
  return false;
}

// The answer to an authorization request that failed validation: a page when the client or
// redirect_uri cannot be trusted, a redirect with the error otherwise.
Response AuthorizeRefused(const domain::AuthorizeParams& p, const domain::AuthorizeCheck& check) {
  if (check.show_on_page)
    return Page(400, RenderMessagePage("Sign-in request refused", check.description));
  FormFields q{{"error", check.error}, {"error_description", check.description}};
  if (!p.state.empty()) q.emplace_back("state", p.state);
  return Redirect(302, WithQuery(p.redirect_uri, q));
}

// Issues a code for an accepted request and redirects back to the client.
asio::awaitable<Response> RedirectWithCode(OidcIssuer& issuer, const Request& req,
                                           const domain::AuthorizeParams& p,
                                           const app::BrowserSession& session, int status) {
  auto params = p;
  auto who = session;
  auto code = co_await issuer.IssueCode(std::move(params), std::move(who), RequestDeadline(req));
  if (!code) {
    co_return Page(503, RenderMessagePage("Try again", "The sign-in service is busy."));
  }
  FormFields q{{"code", *code}};
  if (!p.state.empty()) q.emplace_back("state", p.state);
  q.emplace_back("iss", issuer.Settings().issuer);  // RFC 9207
  co_return Redirect(status, WithQuery(p.redirect_uri, q));
}

// The sign-in page, setting the browser's CSRF secret when it has none yet.
Response SignInPageFor(OidcIssuer& issuer, const Request& req, SignInPage page, int status) {
  std::string secret = CookieValue(req.HeaderValue("cookie"), kCsrfCookie);
  const bool fresh = secret.empty();
  if (fresh) secret = app::RandomToken();
  page.csrf = issuer.FormCsrf(secret, page.params);
  page.min_password_length = issuer.Settings().min_password_length;
  Response r = Page(status, RenderSignInPage(page));
  if (fresh) {
    r.headers.emplace_back("Set-Cookie",
                           SetCookie(kCsrfCookie, secret, OidcCookie(issuer, kCsrfCookieMaxAge)));
  }
  return r;
}

asio::awaitable<Response> GetAuthorize(OidcIssuer& issuer, Request& req) {
  const FormFields q = ParseForm(req.query);
  const auto p = ParamsFrom(q);
  if (HasRepeats(q)) {
    co_return Page(
        400, RenderMessagePage("Sign-in request refused", "A parameter was given more than once."));
  }
  const auto check = issuer.CheckAuthorize(p);
  if (!check.Ok()) co_return AuthorizeRefused(p, check);

  const std::string prompt = FormValue(q, "prompt");
  std::optional<app::BrowserSession> session;
  if (prompt != "login") {
    std::string cookie = CookieValue(req.HeaderValue("cookie"), kSessionCookie);
    auto found = co_await issuer.FindSession(std::move(cookie), RequestDeadline(req));
    if (found) session = std::move(*found);
  }
  if (session) co_return co_await RedirectWithCode(issuer, req, p, *session, 302);
  if (prompt == "none") {
    domain::AuthorizeCheck none;
    none.error = "login_required";
    none.description = "the user is not signed in";
    co_return AuthorizeRefused(p, none);
  }
  SignInPage page;
  page.params = p;
  co_return SignInPageFor(issuer, req, std::move(page), 200);
}

int StatusOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kValidation: return 400;
    default: return 503;
  }
}

asio::awaitable<Response> PostAuthorize(OidcIssuer& issuer, Request& req) {
  if (!IsForm(req)) {
    co_return Page(415, RenderMessagePage("Sign-in request refused", "Expected a form post."));
  }
  const FormFields f = ParseForm(req.body);
  const auto p = ParamsFrom(f);
  if (HasRepeats(f)) {
    co_return Page(
        400, RenderMessagePage("Sign-in request refused", "A parameter was given more than once."));
  }
  const auto check = issuer.CheckAuthorize(p);
  if (!check.Ok()) co_return AuthorizeRefused(p, check);
  const std::string secret = CookieValue(req.HeaderValue("cookie"), kCsrfCookie);
  if (!issuer.CheckFormCsrf(secret, p, FormValue(f, "csrf"))) {
    co_return Page(403, RenderMessagePage("Sign-in form expired",
                                          "Go back to the application and sign in again."));
  }

  const std::string action = FormValue(f, "action");
  const bool sign_up = action == "sign_up";
  std::string email = FormValue(f, "email");
  std::string name = FormValue(f, "name");
  std::string password = FormValue(f, "password");
  const std::string address = req.ctx.remote_address;
  core::Result<app::SignedIn> outcome;
  if (sign_up) {
    outcome =
        co_await issuer.SignUp(email, name, std::move(password), address, RequestDeadline(req));
  } else if (action == "sign_in") {
    outcome = co_await issuer.SignIn(email, std::move(password), address, RequestDeadline(req));
  } else {
    outcome = core::Fail(ErrorCode::kValidation, "Choose sign in or create an account.");
  }
  if (!outcome) {
    const auto status = StatusOf(outcome.error().code);
    SignInPage page;
    page.params = p;
    page.error = status == 503 ? std::string("The sign-in service is busy. Try again.")
                               : outcome.error().message;
    page.email = email;
    page.name = name;
    page.sign_up = sign_up;
    co_return SignInPageFor(issuer, req, std::move(page), status);
  }
  // 303: the browser follows with a GET, never re-posting the password.
  Response r = co_await RedirectWithCode(issuer, req, p, outcome->session, 303);
  const auto max_age = static_cast<int>(issuer.Settings().session_lifetime.count());
  r.headers.emplace_back("Set-Cookie",
                         SetCookie(kSessionCookie, outcome->cookie, OidcCookie(issuer, max_age)));
  co_return r;
}

asio::awaitable<Response> PostToken(OidcIssuer& issuer, Request& req) {
  if (!IsForm(req)) {
    app::OAuthError e{400, "invalid_request", "expected application/x-www-form-urlencoded"};
    co_return OAuthJson(e.status, e.ToJson());
  }
  const FormFields f = ParseForm(req.body);
  for (std::string_view name :
       {"grant_type", "code", "redirect_uri", "client_id", "code_verifier", "refresh_token"}) {
    if (FormCount(f, name) > 1) {
      app::OAuthError e{400, "invalid_request", "a parameter was given more than once"};
      co_return OAuthJson(e.status, e.ToJson());
    }
  }
  const std::string grant = FormValue(f, "grant_type");
  app::OAuthResult<app::TokenResponse> result;
  // Named values, not temporaries, cross the co_await (ADR 0004's g++ 12 rule).
  std::string client_id = FormValue(f, "client_id");
  if (grant == "authorization_code") {
    std::string code = FormValue(f, "code");
    std::string redirect_uri = FormValue(f, "redirect_uri");
    std::string verifier = FormValue(f, "code_verifier");
    result =
        co_await issuer.ExchangeCode(std::move(client_id), std::move(code), std::move(redirect_uri),
                                     std::move(verifier), RequestDeadline(req));
  } else if (grant == "refresh_token") {
    std::string token = FormValue(f, "refresh_token");
    result = co_await issuer.Refresh(std::move(client_id), std::move(token), RequestDeadline(req));
  } else {
    result = std::unexpected(
        app::OAuthError{400, grant.empty() ? "invalid_request" : "unsupported_grant_type",
                        grant.empty() ? "grant_type is required" : "unsupported grant_type"});
  }
  if (!result) co_return OAuthJson(result.error().status, result.error().ToJson());
  co_return OAuthJson(200, result->ToJson());
}

std::string JsonString(std::string_view s) {
  std::string out;
  core::AppendJsonString(out, s);
  return out;
}

asio::awaitable<Response> UserInfo(OidcIssuer& issuer, Request& req) {
  const auto auth = req.HeaderValue("authorization");
  constexpr std::string_view kBearer = "bearer ";
  if (auth.size() <= kBearer.size() ||
      !http::EqualsIgnoreCase(auth.substr(0, kBearer.size()), kBearer)) {
    co_return Response::Json(401, R"({"error":"invalid_request"})")
        .With("WWW-Authenticate", "Bearer")
        .With("Cache-Control", "no-store");
  }
  std::string token(auth.substr(kBearer.size()));
  auto user = co_await issuer.UserInfo(std::move(token), RequestDeadline(req));
  if (!user) {
    if (user.error().code != ErrorCode::kUnauthenticated) {
      co_return Response::Json(503, R"({"error":"temporarily_unavailable"})");
    }
    co_return Response::Json(401, R"({"error":"invalid_token"})")
        .With("WWW-Authenticate", R"(Bearer error="invalid_token")")
        .With("Cache-Control", "no-store");
  }
  std::string body = "{\"sub\":" + JsonString(user->id) + ",\"email\":" + JsonString(user->email) +
                     ",\"email_verified\":false,\"name\":" + JsonString(user->name) + "}";
  co_return Response::Json(200, std::move(body)).With("Cache-Control", "no-store");
}

asio::awaitable<Response> EndSession(OidcIssuer& issuer, Request& req) {
  const FormFields f =
      req.method == Method::kPost && IsForm(req) ? ParseForm(req.body) : ParseForm(req.query);
  app::EndSessionRequest end;
  end.session_cookie = CookieValue(req.HeaderValue("cookie"), kSessionCookie);
  end.id_token_hint = FormValue(f, "id_token_hint");
  end.client_id = FormValue(f, "client_id");
  end.post_logout_redirect_uri = FormValue(f, "post_logout_redirect_uri");
  end.state = FormValue(f, "state");
  const std::string state = end.state;
  auto redirect = co_await issuer.EndSession(std::move(end), RequestDeadline(req));
  if (!redirect) {
    if (redirect.error().code == ErrorCode::kInvalidArgument) {
      co_return Page(400, RenderMessagePage("Sign-out refused", redirect.error().message));
    }
    co_return Page(503, RenderMessagePage("Try again", "The sign-in service is busy."));
  }
  Response r =
      redirect->empty()
          ? Page(200, RenderMessagePage("Signed out", "You are signed out of Trellis."))
          : Redirect(302, state.empty() ? *redirect : WithQuery(*redirect, {{"state", state}}));
  r.headers.emplace_back("Set-Cookie", SetCookie(kSessionCookie, "", OidcCookie(issuer, 0)));
  co_return r;
}

asio::awaitable<Response> Discovery(OidcIssuer& issuer, Request&) {
  co_return Response::Json(200, issuer.DiscoveryJson()).With("Cache-Control", "max-age=300");
}

asio::awaitable<Response> Jwks(OidcIssuer& issuer, Request& req) {
  auto jwks = co_await issuer.JwksJson(RequestDeadline(req));
  if (!jwks) co_return Response::Json(503, R"({"error":"temporarily_unavailable"})");
  // Short: verifiers also refetch when they meet an unknown kid.
  co_return Response::Json(200, std::move(*jwks)).With("Cache-Control", "max-age=300");
}

}  // namespace

app::OidcIssuer::Deadline RequestDeadline(const Request& req) {
  if (req.ctx.deadline == core::Clock::MonoTime{}) return OidcIssuer::kNoDeadline;
  return req.ctx.deadline;
}

void AddOidcRoutes(http::Router& router, OidcIssuer& issuer) {
  OidcIssuer* is = &issuer;
  router.Add(Method::kGet, "/.well-known/openid-configuration",
             [is](Request& req) { return Discovery(*is, req); });
  router.Add(Method::kGet, "/oidc/jwks", [is](Request& req) { return Jwks(*is, req); });
  router.Add(Method::kGet, "/oidc/authorize",
             [is](Request& req) { return GetAuthorize(*is, req); });
  router.Add(Method::kPost, "/oidc/authorize",
             [is](Request& req) { return PostAuthorize(*is, req); });
  router.Add(Method::kPost, "/oidc/token", [is](Request& req) { return PostToken(*is, req); });
  router.Add(Method::kGet, "/oidc/userinfo", [is](Request& req) { return UserInfo(*is, req); });
  router.Add(Method::kPost, "/oidc/userinfo", [is](Request& req) { return UserInfo(*is, req); });
  router.Add(Method::kGet, "/oidc/end-session",
             [is](Request& req) { return EndSession(*is, req); });
  router.Add(Method::kPost, "/oidc/end-session",
             [is](Request& req) { return EndSession(*is, req); });
}

}  // namespace trellis::identity::api
