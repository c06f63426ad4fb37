#include "gateway/ratelimit/rate_limit_middleware.hpp"

#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "platform/http/problem.hpp"

namespace trellis::gateway::ratelimit {

namespace asio = boost::asio;
namespace core = platform::core;
namespace http = platform::http;
using platform::ports::RateDecision;
using platform::ports::RateLimit;

namespace {

std::int64_t CeilSeconds(std::chrono::milliseconds d) {
  return d.count() <= 0 ? 0 : (d.count() + 999) / 1000;
}

void AddHeaders(http::Response& response, const RateDecision& d) {
  response.headers.emplace_back("RateLimit-Limit", std::to_string(d.limit));
  response.headers.emplace_back("RateLimit-Remaining", std::to_string(d.remaining));
  response.headers.emplace_back("RateLimit-Reset", std::to_string(CeilSeconds(d.reset)));
}

// The tighter of two decisions: a refusal, else the one with less left.
bool Tighter(const RateDecision& a, const RateDecision& b) {
  if (a.allowed != b.allowed) return !a.allowed;
  return a.remaining < b.remaining;
}

}  // namespace

core::Result<RateLimit> ParseRateLimit(std::string_view text) {
  const auto slash = text.find('/');
  auto bad = [&] {
    return core::Fail(
        core::ErrorCode::kInvalidArgument,
        "a rate limit is <requests>/<s|m|h>, e.g. 600/m; got \"" + std::string(text) + "\"");
  };
  if (slash == std::string_view::npos) return bad();
  std::int64_t limit = 0;
  const auto head = text.substr(0, slash);
  auto [p, ec] = std::from_chars(head.data(), head.data() + head.size(), limit);
  if (ec != std::errc() || p != head.data() + head.size() || limit <= 0) return bad();
  const auto unit = text.substr(slash + 1);
  RateLimit out;
  out.limit = limit;
  if (unit == "s") {
    out.period = std::chrono::seconds(1);
  } else if (unit == "m") {
    out.period = std::chrono::minutes(1);
  } else if (unit == "h") {
    out.period = std::chrono::hours(1);
  } else {
    return bad();
  }
  return out;
}

RateLimitMiddleware::RateLimitMiddleware(RateLimitSettings settings,
                                         platform::ports::RateLimiter& limiter,
                                         platform::observe::Registry& metrics)
    : settings_(std::move(settings)),
      limiter_(limiter),
      limited_(metrics.AddCounter("trellis_rate_limited_total", "Requests refused with 429.", {})),
      failed_open_(metrics.AddCounter("trellis_rate_limiter_errors_total",
                                      "Requests the limiter could not decide.",
                                      {{"outcome", "served"}})),
      failed_closed_(metrics.AddCounter("trellis_rate_limiter_errors_total",
                                        "Requests the limiter could not decide.",
                                        {{"outcome", "refused"}})) {}

core::Result<void> RateLimitMiddleware::Validate(const RateLimitSettings& settings) {
  auto check = [](const RateLimit& l, const std::string& what) -> core::Result<void> {
    if (l.limit > 0 && l.period.count() > 0) return {};
    return core::Fail(core::ErrorCode::kInvalidArgument, "rate limit " + what + " is not set");
  };
  if (auto ok = check(settings.anonymous, "for anonymous callers"); !ok) return ok;
  if (auto ok = check(settings.user, "per user"); !ok) return ok;
  if (auto ok = check(settings.api_key, "per API key"); !ok) return ok;
  if (!settings.plans.contains(settings.default_plan)) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "the default plan \"" + settings.default_plan + "\" has no rate limit");
  }
  for (const auto& [org, plan] : settings.org_plans) {
    if (!settings.plans.contains(plan)) {
      return core::Fail(core::ErrorCode::kInvalidArgument,
                        "org " + org + " is on plan \"" + plan + "\", which has no rate limit");
    }
  }
  for (const auto& [plan, limit] : settings.plans) {
    if (auto ok = check(limit, "of plan " + plan); !ok) return ok;
  }
  return {};
}

asio::awaitable<http::Response> RateLimitMiddleware::Handle(http::Request& req, http::Next next) {
  bool limited_path = false;
  for (const auto& prefix : settings_.path_prefixes) limited_path |= req.path.starts_with(prefix);
  if (!limited_path || req.method == http::Method::kOptions) co_return co_await next(req);
  // Which limits apply: the caller's own, and the org's when the call addresses one.
  std::vector<std::pair<std::string, RateLimit>> checks;
  const auto* who = req.ctx.principal.get();
  if (!who) {
    checks.emplace_back(settings_.key_prefix + "a:" + req.ctx.remote_address, settings_.anonymous);
  } else if (who->IsApiKey()) {
    checks.emplace_back(settings_.key_prefix + "k:" + who->api_key_id, settings_.api_key);
  } else {
    checks.emplace_back(settings_.key_prefix + "u:" + who->user_id, settings_.user);
  }
  if (who) {
    if (const std::string_view org = req.Param("org"); !org.empty()) {
      const std::string org_id(org);
      const auto assigned = settings_.org_plans.find(org_id);
      const std::string& plan =
          assigned == settings_.org_plans.end() ? settings_.default_plan : assigned->second;
      checks.emplace_back(settings_.key_prefix + "o:" + org_id, settings_.plans.at(plan));
    }
  }

  std::optional<RateDecision> tightest;
  for (auto& [key, limit] : checks) {
    auto decision = co_await limiter_.Acquire(std::move(key), limit, req.ctx.deadline);
    if (!decision) {
      if (settings_.on_error == RateLimitSettings::OnError::kFailClosed) {
        failed_closed_.Inc();
        co_return http::Problem(
            core::Error(core::ErrorCode::kUnavailable, "rate limiting is unavailable; try again",
                        decision.error().internal),
            req.path, req.ctx.request_id);
      }
      failed_open_.Inc();
      continue;
    }
    if (!tightest || Tighter(*decision, *tightest)) tightest = *decision;
    if (!decision->allowed) break;
  }
  if (tightest && !tightest->allowed) {
    limited_.Inc();
    http::Response response = http::Problem(
        core::Error(core::ErrorCode::kResourceExhausted, "too many requests; slow down"), req.path,
        req.ctx.request_id);
    response.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(
                                                     1, CeilSeconds(tightest->retry_after))));
    AddHeaders(response, *tightest);
    co_return response;
  }
  http::Response response = co_await next(req);
  if (tightest) AddHeaders(response, *tightest);
  co_return response;
}

}  // namespace trellis::gateway::ratelimit
