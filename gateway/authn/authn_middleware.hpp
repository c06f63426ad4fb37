// Edge authentication: turns `Authorization: Bearer <token>` into req.ctx.principal for every
// request under the API prefix, or answers 401 problem+json with `WWW-Authenticate: Bearer`.
//
//   auto authn = std::make_shared<AuthnMiddleware>(AuthnSettings{}, verifiers, identity, clock);
//   chain.push_back(authn);   // after CORS (preflights carry no credentials)
//
// Tokens starting with "trk_" are API keys (identity's AuthenticateApiKey); anything else is an
// access token, routed by its (unverified) `iss` to the OidcVerifier of that issuer, verified,
// and mapped to a Trellis user through identity's ResolveSubject (cached briefly).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/auth/oidc_verifier.hpp"
#include "platform/auth/revocation_list.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/principal.hpp"
#include "platform/http/middleware.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"

namespace trellis::gateway::authn {

struct AuthnSettings {
  std::string path_prefix = "/api/";  // requests under it need credentials
  std::string api_key_prefix = "trk_";
  std::chrono::seconds user_cache_ttl{60};  // (issuer, subject) -> user id
  std::size_t user_cache_size = 10'000;
  std::string realm = "trellis";
  // Issuers whose accounts' emails are taken as verified without an `email_verified` claim
  // (the built-in issuer: its sign-up is the account). Others must say `email_verified: true`.
  std::vector<std::string> email_trusted_issuers;
  // Access tokens whose `sid` is on it are refused (sign-out, a reused refresh token), in
  // every process (platform/auth/revocation_list.hpp). Null: no revocation check.
  const platform::auth::RevocationList* revocations = nullptr;
};

class AuthnMiddleware final : public platform::http::Middleware {
 public:
  // One verifier per accepted issuer (e.g. the built-in one and an external one); a token is
  // routed by its `iss`. `identity` and `clock` must outlive the middleware.
  AuthnMiddleware(AuthnSettings settings,
                  std::vector<std::shared_ptr<platform::auth::OidcVerifier>> verifiers,
                  identity::v1::IdentityClient& identity, const platform::core::Clock& clock);

  // Middleware
  boost::asio::awaitable<platform::http::Response> Handle(platform::http::Request& req,
                                                          platform::http::Next next) override;

  struct Stats {
    std::uint64_t resolve_calls = 0;    // ResolveSubject calls made
    std::uint64_t user_cache_hits = 0;  // (issuer, subject) found in the cache
  };
  [[nodiscard]] Stats GetStats() const;

 private:
  struct CachedUser {
    std::string key;
    std::string user_id;
    std::string email;
    std::string name;
    platform::core::Clock::MonoTime expires;
  };

  boost::asio::awaitable<platform::core::Result<std::shared_ptr<const platform::core::Principal>>>
  Authenticate(std::string token, platform::core::CallContext call);
  boost::asio::awaitable<platform::core::Result<std::shared_ptr<const platform::core::Principal>>>
  AuthenticateApiKey(std::string token, platform::core::CallContext call);
  boost::asio::awaitable<platform::core::Result<std::shared_ptr<const platform::core::Principal>>>
  AuthenticateAccessToken(std::string token, platform::core::CallContext call);

  std::optional<CachedUser> FindUser(const std::string& key);
  void RememberUser(CachedUser user);

  AuthnSettings settings_;
  std::map<std::string, std::shared_ptr<platform::auth::OidcVerifier>, std::less<>> verifiers_;
  identity::v1::IdentityClient& identity_;
  const platform::core::Clock& clock_;

  mutable std::mutex mu_;
  std::list<CachedUser> users_;  // guarded by mu_; most recently used first
  std::unordered_map<std::string, std::list<CachedUser>::iterator> user_index_;  // guarded by mu_
  std::uint64_t resolve_calls_ = 0;                                              // guarded by mu_
  std::uint64_t user_cache_hits_ = 0;                                            // guarded by mu_
};

}  // namespace trellis::gateway::authn
