// The built-in OpenID Connect issuer of the embedded shape (authorization code + PKCE S256,
// ES256 tokens, JWKS, refresh-token rotation, browser sessions, local accounts). The HTTP
// handlers in api/oidc_routes.* are thin wrappers over these use cases.
//
//   auto issuer = OidcIssuer::Create(settings, identity_store, clock, ids).value();
//   co_await issuer->Start(deadline);                       // keys ready, rotation on schedule
//   auto tokens = co_await issuer->ExchangeCode(client, code, redirect, verifier, deadline);
//
// Thread-safe: the handlers of every event loop share one issuer. Password hashing (argon2id,
// ~100 ms) runs on the issuer's own small thread pool, never on an event loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/core/ids.hpp"
#include "platform/ports/sql_store.hpp"
#include "platform/ports/token_store.hpp"
#include "services/identity/app/oidc_crypto.hpp"
#include "services/identity/domain/oidc_authorize.hpp"
#include "services/identity/domain/sign_in_throttle.hpp"
#include "services/identity/store/sign_in_store.hpp"

namespace trellis::identity::app {

// The client the built-in console (GET /console) signs in with.
inline constexpr std::string_view kConsoleClientId = "trellis-console";

struct OidcSettings {
  // The issuer URL as clients reach it ("iss" of every token); no trailing slash.
  std::string issuer = "http://127.0.0.1:8080";
  // "aud" of access tokens: what the API's authentication expects.
  std::string audience = "trellis-api";
  std::vector<domain::OidcClient> clients;
  // Registers kConsoleClientId with redirect <issuer>/console/callback.
  bool console_client = true;
  std::chrono::seconds access_token_lifetime{15 * 60};
  std::chrono::seconds code_lifetime{60};
  std::chrono::seconds refresh_token_lifetime{30 * 24 * 3600};
  std::chrono::seconds session_lifetime{7 * 24 * 3600};
  // A new signing key every rotation_period; the old one stays published rotation_overlap
  // (at least access_token_lifetime + leeway, so tokens it signed stay verifiable).
  std::chrono::seconds rotation_period{30 * 24 * 3600};
  std::chrono::seconds rotation_overlap{24 * 3600};
  // Clock skew accepted when checking exp.
  std::chrono::seconds leeway{60};
  std::size_t min_password_length = 10;
  PasswordHashing password_hashing;
  int hash_threads = 1;
  domain::SignInThrottleSettings throttle;
};

// RFC 6749 §5.1 success body.
struct TokenResponse {
  std::string access_token;
  std::string id_token;
  std::string refresh_token;
  std::int64_t expires_in = 0;
  std::string scope;
  [[nodiscard]] std::string ToJson() const;
};

// RFC 6749 §5.2 error: {"error": ..., "error_description": ...} with an HTTP status.
struct OAuthError {
  int status = 400;
  std::string error;
  std::string description;
  [[nodiscard]] std::string ToJson() const;
};

template <typename T>
using OAuthResult = std::expected<T, OAuthError>;

// The verified claims of one of this issuer's access tokens.
struct AccessClaims {
  std::string sub;
  std::string client_id;
  std::string scope;
  std::string email;
  std::string name;
  std::string jti;
  std::int64_t exp = 0;
};

struct BrowserSession {
  std::string id;
  std::string user_id;
  std::int64_t auth_time_ms = 0;
};

struct SignedIn {
  std::string cookie;  // the session cookie's value (only its hash is stored)
  BrowserSession session;
};

struct EndSessionRequest {
  std::string session_cookie;  // "" when the browser sent none
  std::string id_token_hint;
  std::string client_id;
  std::string post_logout_redirect_uri;
  std::string state;
};

class OidcIssuer {
 public:
  using Deadline = platform::core::Clock::MonoTime;
  static constexpr Deadline kNoDeadline = Deadline::max();

  // kInvalidArgument for inconsistent settings (overlap shorter than a token's life, a client
  // without redirect URIs, duplicate client ids, an issuer that is not an http(s) URL).
  [[nodiscard]] static platform::core::Result<std::unique_ptr<OidcIssuer>> Create(
      OidcSettings settings, platform::ports::SqlStore& store, const platform::core::Clock& clock,
      platform::core::IdGenerator& ids);
  ~OidcIssuer();
  OidcIssuer(const OidcIssuer&) = delete;
  OidcIssuer& operator=(const OidcIssuer&) = delete;

  // Loads the signing keys, generating the first one when there is none. Call once before
  // serving (the migrations must have run).
  [[nodiscard]] platform::ports::Awaitable<void> Start(Deadline deadline = kNoDeadline);
  // Rotates the signing key when it is due and drops retired keys. Token issuance and the
  // JWKS call it lazily; a timer may call it too.
  [[nodiscard]] platform::ports::Awaitable<void> MaintainKeys(Deadline deadline = kNoDeadline);

  [[nodiscard]] const OidcSettings& Settings() const { return settings_; }
  [[nodiscard]] std::string DiscoveryJson() const;
  [[nodiscard]] platform::ports::Awaitable<std::string> JwksJson(Deadline deadline = kNoDeadline);

  [[nodiscard]] domain::AuthorizeCheck CheckAuthorize(const domain::AuthorizeParams& p) const;
  // The CSRF token of a sign-in form: bound to the browser's CSRF cookie and to the request's
  // parameters, so a form cannot be replayed by another browser or for another client.
  [[nodiscard]] std::string FormCsrf(std::string_view browser_secret,
                                     const domain::AuthorizeParams& p) const;
  [[nodiscard]] bool CheckFormCsrf(std::string_view browser_secret,
                                   const domain::AuthorizeParams& p, std::string_view csrf) const;

  // The live session behind a cookie value, or nullopt.
  [[nodiscard]] platform::ports::Awaitable<std::optional<BrowserSession>> FindSession(
      std::string cookie, Deadline deadline = kNoDeadline);
  // A fresh authorization code for an accepted request (CheckAuthorize passed).
  [[nodiscard]] platform::ports::Awaitable<std::string> IssueCode(domain::AuthorizeParams params,
                                                                  BrowserSession session,
                                                                  Deadline deadline = kNoDeadline);

  // Failures carry a message to show on the page: kUnauthenticated (wrong email or password),
  // kResourceExhausted (throttled), kValidation (sign-up input), kAlreadyExists (email taken).
  [[nodiscard]] platform::ports::Awaitable<SignedIn> SignIn(std::string email, std::string password,
                                                            std::string address,
                                                            Deadline deadline = kNoDeadline);
  [[nodiscard]] platform::ports::Awaitable<SignedIn> SignUp(std::string email, std::string name,
                                                            std::string password,
                                                            std::string address,
                                                            Deadline deadline = kNoDeadline);

  // grant_type=authorization_code.
  [[nodiscard]] boost::asio::awaitable<OAuthResult<TokenResponse>> ExchangeCode(
      std::string client_id, std::string code, std::string redirect_uri, std::string code_verifier,
      Deadline deadline = kNoDeadline);
  // grant_type=refresh_token.
  [[nodiscard]] boost::asio::awaitable<OAuthResult<TokenResponse>> Refresh(
      std::string client_id, std::string refresh_token, Deadline deadline = kNoDeadline);

  // Signature (a published key), typ at+jwt, iss, aud and exp. kUnauthenticated otherwise.
  [[nodiscard]] platform::core::Result<AccessClaims> VerifyAccessToken(std::string_view token);
  // The user an access token belongs to, as the userinfo endpoint shows it.
  [[nodiscard]] platform::ports::Awaitable<store::UserProfile> UserInfo(
      std::string access_token, Deadline deadline = kNoDeadline);

  // Ends the browser's session (the cookie's, else the hint's "sid") and revokes its refresh
  // tokens. Returns where to send the browser ("" for the signed-out page). kInvalidArgument
  // when post_logout_redirect_uri is not registered for the client.
  [[nodiscard]] platform::ports::Awaitable<std::string> EndSession(EndSessionRequest request,
                                                                   Deadline deadline = kNoDeadline);

  // Where sessions ended here are recorded so that every process refuses their access tokens
  // (sign-out, a reused refresh token). Before serving; null: not recorded.
  void SetRevocations(platform::ports::TokenStore* tokens);
  // Where refresh tokens and their families live (the token store port, ADR 0026). Before
  // serving; null (the default): identity's own SQL tables (store::SqlRefreshFamilies).
  void SetRefreshFamilies(platform::ports::RefreshFamilies* families);

  struct Impl;

 private:
  explicit OidcIssuer(OidcSettings settings, std::unique_ptr<Impl> impl);
  // Records the session as revoked in the token store, if one is set.
  [[nodiscard]] platform::ports::Awaitable<void> RevokeSession(std::string session_id,
                                                               Deadline deadline);
  OidcSettings settings_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::identity::app
