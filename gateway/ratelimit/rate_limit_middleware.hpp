// The gateway's rate limits (ADR 0021), on the rate limiter port: GCRA per org (by the org's
// plan), per user, per API key, and per client address for anonymous calls. Every answer
// under the API prefix carries RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (of the
// tightest limit that applied); a refused call gets 429 problem+json with Retry-After.
//
// When the limiter fails (Redis unreachable, frozen, past the deadline), `on_error` decides:
// fail open (serve, count it) or fail closed (503 with Retry-After). Which plane owns edge rate
// limits is docs/policy-ownership.md's call: where Kong owns them this middleware is not
// installed at all (the composition root refuses a config that turns both on).
//
//   auto limits = std::make_shared<RateLimitMiddleware>(settings, limiter, registry);
//   chain.push_back(limits);   // after authentication: it needs the principal
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "platform/http/middleware.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/rate_limiter.hpp"

namespace trellis::gateway::ratelimit {

struct RateLimitSettings {
  // Requests under these are limited: the API, and the built-in issuer's endpoints (sign-in
  // forms and the token endpoint, anonymous: limited per client address).
  std::vector<std::string> path_prefixes = {"/api/", "/oidc/"};
  std::string key_prefix;                // before every key (the Redis limiter adds its own)
  platform::ports::RateLimit anonymous;  // per client address, before sign-in
  platform::ports::RateLimit user;       // per signed-in user, over all their orgs
  platform::ports::RateLimit api_key;    // per API key
  // Per org, by the org's plan; orgs without an entry in org_plans are on default_plan.
  std::map<std::string, platform::ports::RateLimit> plans;
  std::map<std::string, std::string> org_plans;  // org id -> plan
  std::string default_plan = "standard";
  enum class OnError { kFailOpen, kFailClosed };
  OnError on_error = OnError::kFailOpen;
};

// "<limit>/<period>" with period one of s, m, h ("600/m", "20/s"); kInvalidArgument otherwise.
[[nodiscard]] platform::core::Result<platform::ports::RateLimit> ParseRateLimit(
    std::string_view text);

class RateLimitMiddleware final : public platform::http::Middleware {
 public:
  // `limiter` and `metrics` must outlive the middleware. Every plan named by org_plans and
  // default_plan must be in plans (kInvalidArgument from Validate otherwise).
  RateLimitMiddleware(RateLimitSettings settings, platform::ports::RateLimiter& limiter,
                      platform::observe::Registry& metrics);
  [[nodiscard]] static platform::core::Result<void> Validate(const RateLimitSettings& settings);

  // Middleware
  boost::asio::awaitable<platform::http::Response> Handle(platform::http::Request& req,
                                                          platform::http::Next next) override;

 private:
  const RateLimitSettings settings_;
  platform::ports::RateLimiter& limiter_;
  platform::observe::Counter& limited_;
  platform::observe::Counter& failed_open_;
  platform::observe::Counter& failed_closed_;
};

}  // namespace trellis::gateway::ratelimit
