#include "adapters/redis/redis_locks.hpp"

#include <utility>
#include <vector>

namespace trellis::adapters::redis {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Lease;
using std::chrono::milliseconds;

namespace {

// KEYS: lease, fence counter. ARGV: owner, ttl ms. Returns the token, or 0 when another owner
// holds the lease (an existing key has not run out). Tokens (~1.8e15) are exact in a Lua double
// and written with %.0f (tostring would round them to 14 digits).
const RedisScript kAcquire(R"lua(
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[1] then return 0 end
local time = redis.call('TIME')
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = string.format('%.0f', math.max(last + 1, now_us))
redis.call('SET', KEYS[2], token)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return tonumber(token)
)lua");

// KEYS: lease. ARGV: owner, token, ttl ms. 1 when renewed.
const RedisScript kRenew(R"lua(
local held = redis.call('HMGET', KEYS[1], 'owner', 'token')
if held[1] ~= ARGV[1] or held[2] ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua");

// KEYS: lease. ARGV: owner, token. 1 when it was still held and is now free.
const RedisScript kRelease(R"lua(
local held = redis.call('HMGET', KEYS[1], 'owner', 'token')
if held[1] ~= ARGV[1] or held[2] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
)lua");

Result<void> CheckTtl(milliseconds ttl) {
  if (ttl <= milliseconds::zero()) {
    return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid lease ttl",
                                "lock ttl must be > 0, got " + std::to_string(ttl.count()) + "ms");
  }
  return {};
}

std::unexpected<platform::core::Error> BadReply(const std::string& script, const RedisReply& r) {
  return platform::core::Fail(ErrorCode::kUnavailable, "lock service unavailable",
                              "redis lock " + script + " script: " +
                                  (r.IsError() ? r.str : std::string("unexpected reply")));
}

}  // namespace

RedisLocks::RedisLocks(RedisClient& client, const platform::core::Clock& clock,
                       RedisLocksSettings settings)
    : client_(client), clock_(clock), settings_(std::move(settings)) {}

Result<void> RedisLocks::Check(platform::core::Clock::MonoTime deadline) const {
  if (clock_.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "lock call after its deadline");
  }
  return {};
}

boost::asio::awaitable<Result<std::optional<Lease>>> RedisLocks::Acquire(
    std::string name, std::string owner, milliseconds ttl,
    platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckTtl(ttl); !ok) co_return std::unexpected(ok.error());
  if (auto ok = Check(deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + name);
  keys.push_back(settings_.key_prefix + name + ":fence");
  std::vector<std::string> args;
  args.push_back(owner);
  args.push_back(std::to_string(ttl.count()));
  auto reply = co_await client_.Eval(kAcquire, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("acquire", *reply);
  if (reply->integer == 0) co_return std::optional<Lease>();
  Lease lease;
  lease.name = std::move(name);
  lease.owner = std::move(owner);
  lease.fencing_token = reply->integer;
  co_return std::optional<Lease>(std::move(lease));
}

boost::asio::awaitable<Result<bool>> RedisLocks::Renew(Lease lease, milliseconds ttl,
                                                       platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckTtl(ttl); !ok) co_return std::unexpected(ok.error());
  if (auto ok = Check(deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + lease.name);
  std::vector<std::string> args;
  args.push_back(std::move(lease.owner));
  args.push_back(std::to_string(lease.fencing_token));
  args.push_back(std::to_string(ttl.count()));
  auto reply = co_await client_.Eval(kRenew, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("renew", *reply);
  co_return reply->integer == 1;
}

boost::asio::awaitable<Result<void>> RedisLocks::Release(Lease lease,
                                                         platform::core::Clock::MonoTime deadline) {
  if (auto ok = Check(deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + lease.name);
  std::vector<std::string> args;
  args.push_back(std::move(lease.owner));
  args.push_back(std::to_string(lease.fencing_token));
  auto reply = co_await client_.Eval(kRelease, std::move(keys), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("release", *reply);
  co_return Result<void>();
}

}  // namespace trellis::adapters::redis
