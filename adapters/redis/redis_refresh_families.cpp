#include "adapters/redis/redis_refresh_families.hpp"

#include <charconv>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace trellis::adapters::redis {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::RefreshGrant;
using platform::ports::RotateOutcome;
using platform::ports::Rotation;
using MonoTime = platform::core::Clock::MonoTime;
using WallTime = platform::core::Clock::WallTime;

namespace {

// Sets a key's expiry to `at` (ms since the epoch) unless it already lasts longer.
constexpr const char* kExtend = R"lua(
local function extend(key, at)
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIREAT', key, at)
  else
    redis.call('PEXPIREAT', key, at, 'GT')
  end
end
)lua";

// KEYS: token, family, session's families, session revoked. ARGV: family, session, user,
// client, scope, auth time, expiry (ms), keep until (ms). 0 when the session was revoked.
const RedisScript kIssue(std::string(kExtend) + R"lua(
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', ARGV[2], 'u', ARGV[3], 'c', ARGV[4],
           'sc', ARGV[5], 'at', ARGV[6], 'e', ARGV[7], 'st', 'live')
redis.call('PEXPIREAT', KEYS[1], ARGV[8])
redis.call('SET', KEYS[2], '0', 'NX')
extend(KEYS[2], ARGV[8])
redis.call('SADD', KEYS[3], ARGV[1])
extend(KEYS[3], ARGV[8])
return 1
)lua");

// KEYS: token, next token. ARGV: prefix, now (ms), client, next expiry (ms), next keep until
// (ms). Returns {outcome} or {outcome, family, session, user, client, scope, auth time}.
const RedisScript kRotate(std::string(kExtend) + R"lua(
local t = redis.call('HMGET', KEYS[1], 'f', 's', 'u', 'c', 'sc', 'at', 'e', 'st')
if not t[1] then return {'unknown'} end
local function out(o) return {o, t[1], t[2], t[3], t[4], t[5], t[6]} end
local family = ARGV[1] .. 'f:' .. t[1]
if redis.call('GET', family) ~= '0' or redis.call('EXISTS', ARGV[1] .. 'e:' .. t[2]) == 1 then
  return out('revoked')
end
if t[4] ~= ARGV[3] then return out('wrong_client') end
if t[8] ~= 'live' then
  redis.call('SET', family, '1', 'KEEPTTL')
  return out('reused')
end
redis.call('HSET', KEYS[1], 'st', 'used')
if tonumber(t[7]) <= tonumber(ARGV[2]) then return out('expired') end
redis.call('HSET', KEYS[2], 'f', t[1], 's', t[2], 'u', t[3], 'c', t[4], 'sc', t[5],
           'at', t[6], 'e', ARGV[4], 'st', 'live')
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
extend(family, ARGV[5])
extend(ARGV[1] .. 's:' .. t[2], ARGV[5])
return out('rotated')
)lua");

// KEYS: family.
const RedisScript kRevokeFamily(R"lua(
redis.call('SET', KEYS[1], '1', 'XX', 'KEEPTTL')
return 1
)lua");

// KEYS: session's families, session revoked. ARGV: prefix, how long the mark lasts (ms).
const RedisScript kRevokeSession(R"lua(
for _, f in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('SET', ARGV[1] .. 'f:' .. f, '1', 'XX', 'KEEPTTL')
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
)lua");

std::int64_t EpochMs(WallTime t) {
  // Rounded up: a token that expires between two milliseconds is live until the later one.
  return std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Result<void> CheckDeadline(const platform::core::Clock& clock, MonoTime deadline) {
  if (clock.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "refresh token store call after its deadline");
  }
  return {};
}

std::unexpected<platform::core::Error> BadReply(const std::string& what, const RedisReply& r) {
  return platform::core::Fail(ErrorCode::kUnavailable, "token store unavailable",
                              "redis refresh families " + what + ": " +
                                  (r.IsError() ? r.str : std::string("unexpected reply")));
}

std::optional<RotateOutcome> OutcomeNamed(const std::string& s) {
  if (s == "rotated") return RotateOutcome::kRotated;
  if (s == "unknown") return RotateOutcome::kUnknown;
  if (s == "revoked") return RotateOutcome::kRevoked;
  if (s == "wrong_client") return RotateOutcome::kWrongClient;
  if (s == "reused") return RotateOutcome::kReused;
  if (s == "expired") return RotateOutcome::kExpired;
  return std::nullopt;
}

}  // namespace

RedisRefreshFamilies::RedisRefreshFamilies(RedisClient& client, const platform::core::Clock& clock,
                                           RedisRefreshFamiliesSettings settings)
    : client_(client), clock_(clock), settings_(std::move(settings)) {}

boost::asio::awaitable<Result<bool>> RedisRefreshFamilies::Issue(std::string token_sha256,
                                                                 RefreshGrant grant,
                                                                 WallTime expires_at,
                                                                 MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  const std::int64_t expires_ms = EpochMs(expires_at);
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + "t:" + token_sha256);
  keys.push_back(settings_.key_prefix + "f:" + grant.family_id);
  keys.push_back(settings_.key_prefix + "s:" + grant.session_id);
  keys.push_back(settings_.key_prefix + "e:" + grant.session_id);
  std::vector<std::string> args;
  args.push_back(std::move(grant.family_id));
  args.push_back(std::move(grant.session_id));
  args.push_back(std::move(grant.user_id));
  args.push_back(std::move(grant.client_id));
  args.push_back(std::move(grant.scope));
  args.push_back(std::to_string(grant.auth_time_ms));
  args.push_back(std::to_string(expires_ms));
  args.push_back(std::to_string(expires_ms + settings_.retain.count()));
  auto reply = co_await client_.Eval(kIssue, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("issue", *reply);
  co_return reply->integer == 1;
}

boost::asio::awaitable<Result<Rotation>> RedisRefreshFamilies::Rotate(std::string token_sha256,
                                                                      std::string client_id,
                                                                      std::string next_sha256,
                                                                      WallTime next_expires_at,
                                                                      MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  const std::int64_t expires_ms = EpochMs(next_expires_at);
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + "t:" + token_sha256);
  keys.push_back(settings_.key_prefix + "t:" + next_sha256);
  std::vector<std::string> args;
  args.push_back(settings_.key_prefix);
  args.push_back(std::to_string(
      std::chrono::floor<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count()));
  args.push_back(std::move(client_id));
  args.push_back(std::to_string(expires_ms));
  args.push_back(std::to_string(expires_ms + settings_.retain.count()));
  auto reply = co_await client_.Eval(kRotate, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsArray() || reply->elements.empty() || !reply->elements[0].IsString()) {
    co_return BadReply("rotate", *reply);
  }
  const auto& e = reply->elements;
  const auto outcome = OutcomeNamed(e[0].str);
  if (!outcome) co_return BadReply("rotate outcome", *reply);
  Rotation r;
  r.outcome = *outcome;
  if (r.outcome == RotateOutcome::kUnknown) co_return r;
  if (e.size() != 7) co_return BadReply("rotate grant", *reply);
  for (std::size_t i = 1; i < e.size(); ++i) {
    if (!e[i].IsString()) co_return BadReply("rotate grant", *reply);
  }
  r.grant.family_id = e[1].str;
  r.grant.session_id = e[2].str;
  r.grant.user_id = e[3].str;
  r.grant.client_id = e[4].str;
  r.grant.scope = e[5].str;
  const std::string& at = e[6].str;
  auto [ptr, ec] = std::from_chars(at.data(), at.data() + at.size(), r.grant.auth_time_ms);
  if (ec != std::errc() || ptr != at.data() + at.size()) co_return BadReply("auth time", *reply);
  co_return r;
}

boost::asio::awaitable<Result<void>> RedisRefreshFamilies::RevokeFamily(std::string family_id,
                                                                        MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + "f:" + family_id);
  std::vector<std::string> no_args;
  auto reply = co_await client_.Eval(kRevokeFamily, std::move(keys), std::move(no_args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("revoke family", *reply);
  co_return Result<void>();
}

boost::asio::awaitable<Result<void>> RedisRefreshFamilies::RevokeSession(std::string session_id,
                                                                         MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + "s:" + session_id);
  keys.push_back(settings_.key_prefix + "e:" + session_id);
  std::vector<std::string> args;
  args.push_back(settings_.key_prefix);
  args.push_back(std::to_string(settings_.ended_session.count()));
  auto reply = co_await client_.Eval(kRevokeSession, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("revoke session", *reply);
  co_return Result<void>();
}

}  // namespace trellis::adapters::redis
