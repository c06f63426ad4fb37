// Real access tokens from the built-in issuer for the end-to-end tests: a user signs up (as the
// sign-in page would) and the test runs the authorization code + PKCE exchange as a client.
//
//   s.clients.push_back({kE2eClientId, {kE2eRedirect}, {kE2eRedirect}});   // when tuning
//   auto user = SignUpWithToken(product.Issuer(), ids, "ada@example.com", "Ada");
#pragma once

#include <openssl/evp.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "platform/auth/jwt.hpp"
#include "platform/core/ids.hpp"
#include "platform/ports/run_sync.hpp"
#include "services/identity/app/oidc_issuer.hpp"

namespace trellis::tests::e2e {

inline constexpr const char* kE2eClientId = "e2e";
inline constexpr const char* kE2eRedirect = "http://127.0.0.1/callback";
inline constexpr const char* kE2ePassword = "correct horse battery";

// RFC 7636's S256 code challenge of a verifier.
inline std::string S256(const std::string& verifier) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(verifier.data(), verifier.size(), digest, &size, EVP_sha256(), nullptr);
  return platform::auth::Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(digest), size));
}

struct E2eUser {
  std::string access_token;
  std::string session_cookie;  // the browser session (for end-session)
};

// An authorization code for the browser session (kE2eClientId, PKCE S256) and its verifier.
struct PendingCode {
  std::string code;
  std::string verifier;
};

inline PendingCode CodeFor(identity::app::OidcIssuer& issuer, platform::core::IdGenerator& ids,
                           const identity::app::BrowserSession& session) {
  PendingCode out;
  out.verifier = "verifier-" + ids.Next() + "-0123456789abcdef";
  identity::domain::AuthorizeParams p;
  p.client_id = kE2eClientId;
  p.redirect_uri = kE2eRedirect;
  p.response_type = "code";
  p.scope = "openid email profile";
  p.state = "state";
  p.nonce = "nonce";
  p.code_challenge = S256(out.verifier);
  p.code_challenge_method = "S256";
  auto code = platform::ports::RunSync(issuer.IssueCode(p, session));
  if (!code) throw std::runtime_error("code: " + code.error().message);
  out.code = std::move(*code);
  return out;
}

// An access token for the browser session, through the code + PKCE exchange of kE2eClientId.
// The exchange runs on a private io_context (RunSync): for the embedded token store only; with
// the Redis token store exchange over HTTP instead (the client's connections belong to the
// server's event loops).
inline std::string TokenFor(identity::app::OidcIssuer& issuer, platform::core::IdGenerator& ids,
                            const identity::app::BrowserSession& session) {
  const PendingCode c = CodeFor(issuer, ids, session);
  auto tokens =
      platform::ports::RunSync(issuer.ExchangeCode(kE2eClientId, c.code, kE2eRedirect, c.verifier));
  if (!tokens) throw std::runtime_error("token: " + tokens.error().description);
  return tokens->access_token;
}

// Signs a user up at the built-in issuer: their token and session cookie.
inline E2eUser SignUpWithToken(identity::app::OidcIssuer& issuer, platform::core::IdGenerator& ids,
                               const std::string& email, const std::string& name = "Test User") {
  auto signed_up =
      platform::ports::RunSync(issuer.SignUp(email, name, kE2ePassword, "e2e-" + email));
  if (!signed_up) throw std::runtime_error("sign-up: " + signed_up.error().message);
  return E2eUser{TokenFor(issuer, ids, signed_up->session), signed_up->cookie};
}

}  // namespace trellis::tests::e2e
