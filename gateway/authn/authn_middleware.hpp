// Edge authentication: turns `Authorization: Bearer <token>` into req.ctx.principal for every
// request under the API prefix, or answers 401 problem+json with `WWW-Authenticate: Bearer`.
//
//   auto authn = std::make_shared<AuthnMiddleware>(AuthnSettings{}, verifiers, identity, clock);
//   chain.push_back(authn);   // after CORS (preflights carry no credentials)
//
// Tokens starting with "trk_" are API keys (identity's AuthenticateApiKey); anything else is an
// access token, routed by its (unverified) `iss` to the OidcVerifier of that issuer, verified,
// and mapped to a Trellis user through identity's ResolveSubject (cached briefly).
//
// The hot path: an access token seen before is looked up by its exact text in a small map of
// the principals built for it, kept until the token's exp (the verifier's cache bound) or the
// user cache's TTL, whichever is first; only the revocation list is consulted again on every
// request. A hit therefore decodes, parses, hashes and allocates nothing (ADR 0027).
#pragma once

#include <atomic>
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
#include <string_view>
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
  // Access tokens (exact text) -> the principal built for them; 0 turns the fast path off.
  std::size_t token_cache_size = 10'000;
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
    std::uint64_t resolve_calls = 0;     // ResolveSubject calls made
    std::uint64_t user_cache_hits = 0;   // (issuer, subject) found in the cache
    std::uint64_t token_cache_hits = 0;  // access tokens answered from the fast path
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

  // A verified access token's principal, valid while the token is (wall clock, as the
  // verifier's cache) and while the user cache would still answer for it (monotonic).
  struct KnownToken {
    std::shared_ptr<const platform::core::Principal> principal;
    std::string session_id;
    platform::core::Clock::WallTime token_expires;
    platform::core::Clock::MonoTime user_expires;
  };
  // Heterogeneous lookup by string_view: a hit allocates nothing.
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::optional<CachedUser> FindUser(const std::string& key);
  void RememberUser(CachedUser user);
  std::shared_ptr<const KnownToken> FindToken(std::string_view token);
  void RememberToken(std::string token, std::shared_ptr<const KnownToken> known);

  AuthnSettings settings_;
  std::map<std::string, std::shared_ptr<platform::auth::OidcVerifier>, std::less<>> verifiers_;
  identity::v1::IdentityClient& identity_;
  const platform::core::Clock& clock_;

  mutable std::mutex mu_;
  std::list<CachedUser> users_;  // guarded by mu_; most recently used first
  std::unordered_map<std::string, std::list<CachedUser>::iterator> user_index_;  // guarded by mu_
  std::uint64_t resolve_calls_ = 0;                                              // guarded by mu_
  std::uint64_t user_cache_hits_ = 0;                                            // guarded by mu_

  mutable std::mutex tokens_mu_;
  std::unordered_map<std::string, std::shared_ptr<const KnownToken>, TokenHash, std::equal_to<>>
      tokens_;  // guarded by tokens_mu_
  std::atomic<std::uint64_t> token_cache_hits_{0};
};

}  // namespace trellis::gateway::authn
