#include "adapters/redis/redis_token_store.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace trellis::adapters::redis {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Revocation;
using platform::ports::RevocationPage;
using WallTime = platform::core::Clock::WallTime;

namespace {

// Shared by both scripts. KEYS: seq, log, exp, forgotten. ARGV[1]: now (ms), ARGV[2]: prune
// batch. Sequence numbers (~1.8e15) are exact in a Lua double and in a sorted-set score, and
// are written with %.0f (tostring would round them to 14 digits).
constexpr const char* kPrelude = R"lua(
local function start()
  if redis.call('EXISTS', KEYS[1]) == 1 then return end
  local time = redis.call('TIME')
  local base = string.format('%.0f', tonumber(time[1]) * 1000000 + tonumber(time[2]))
  redis.call('SET', KEYS[1], base)
  redis.call('SET', KEYS[4], base)
end
local function prune(now_ms, batch)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms, 'LIMIT', 0, batch)
  if #gone == 0 then return end
  local forgotten = tonumber(redis.call('GET', KEYS[4]) or '0')
  for _, sid in ipairs(gone) do
    local seq = redis.call('ZSCORE', KEYS[2], sid)
    if seq and tonumber(seq) > forgotten then forgotten = tonumber(seq) end
    redis.call('ZREM', KEYS[2], sid)
    redis.call('ZREM', KEYS[3], sid)
  end
  redis.call('SET', KEYS[4], string.format('%.0f', forgotten))
end
start()
prune(ARGV[1], ARGV[2])
)lua";

// ARGV[3]: session, ARGV[4]: expiry (ms). Returns the new sequence number, 0 when nothing
// changed (already revoked until then or later, or already over).
const RedisScript kRevoke(std::string(kPrelude) + R"lua(
local expires = tonumber(ARGV[4])
if expires <= tonumber(ARGV[1]) then return 0 end
local current = redis.call('ZSCORE', KEYS[3], ARGV[3])
if current and tonumber(current) >= expires then return 0 end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return seq
)lua");

// ARGV[3]: the cursor ("" for all). Returns {'reset'} or {'ok', last, sid, expiry, ...}.
const RedisScript kSince(std::string(kPrelude) + R"lua(
local last = redis.call('GET', KEYS[1])
local from = '-inf'
if ARGV[3] ~= '' then
  local cursor = tonumber(ARGV[3])
  if cursor > tonumber(last) or cursor < tonumber(redis.call('GET', KEYS[4])) then
    return {'reset'}
  end
  from = '(' .. ARGV[3]
end
local sids = redis.call('ZRANGEBYSCORE', KEYS[2], from, '+inf')
local out = {'ok', last}
for _, sid in ipairs(sids) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('ZSCORE', KEYS[3], sid)
end
return out
)lua");

std::int64_t EpochMs(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Whole milliseconds only: a sorted-set score is a double, and expiries are kept to the ms.
std::optional<std::int64_t> ParseMs(const std::string& s) {
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

Result<void> CheckDeadline(const platform::core::Clock& clock,
                           platform::core::Clock::MonoTime deadline) {
  if (clock.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "token store call after its deadline");
  }
  return {};
}

std::unexpected<platform::core::Error> BadReply(const std::string& what, const RedisReply& r) {
  return platform::core::Fail(
      ErrorCode::kUnavailable, "token store unavailable",
      "redis token store " + what + ": " + (r.IsError() ? r.str : std::string("unexpected reply")));
}

}  // namespace

RedisTokenStore::RedisTokenStore(RedisClient& client, const platform::core::Clock& clock,
                                 RedisTokenStoreSettings settings)
    : client_(client), clock_(clock), settings_(std::move(settings)) {}

std::vector<std::string> RedisTokenStore::Keys() const {
  std::vector<std::string> keys;
  keys.push_back(settings_.key_prefix + "seq");
  keys.push_back(settings_.key_prefix + "log");
  keys.push_back(settings_.key_prefix + "exp");
  keys.push_back(settings_.key_prefix + "forgotten");
  return keys;
}

boost::asio::awaitable<Result<void>> RedisTokenStore::Revoke(
    std::string session_id, WallTime expires_at, platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> args;
  args.push_back(std::to_string(EpochMs(clock_.Now())));
  args.push_back(std::to_string(settings_.prune_batch));
  args.push_back(std::move(session_id));
  // Rounded up: an expiry between two milliseconds is kept until the later one.
  args.push_back(std::to_string(
      std::chrono::ceil<std::chrono::milliseconds>(expires_at.time_since_epoch()).count()));
  auto reply = co_await client_.Eval(kRevoke, Keys(), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsInteger()) co_return BadReply("revoke", *reply);
  co_return Result<void>();
}

boost::asio::awaitable<Result<RevocationPage>> RedisTokenStore::RevokedSince(
    std::string cursor, platform::core::Clock::MonoTime deadline) {
  if (!cursor.empty()) {
    std::uint64_t after = 0;
    const char* end = cursor.data() + cursor.size();
    auto [ptr, ec] = std::from_chars(cursor.data(), end, after);
    if (ec != std::errc() || ptr != end) {
      co_return platform::core::Fail(
          ErrorCode::kInvalidArgument, "invalid revocation cursor",
          "revocation cursor is not a decimal sequence number: " + cursor);
    }
  }
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::string> args;
  args.push_back(std::to_string(EpochMs(clock_.Now())));
  args.push_back(std::to_string(settings_.prune_batch));
  args.push_back(std::move(cursor));
  auto reply = co_await client_.Eval(kSince, Keys(), std::move(args), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsArray() || reply->elements.empty() || !reply->elements[0].IsString()) {
    co_return BadReply("page", *reply);
  }
  RevocationPage page;
  const auto& elements = reply->elements;
  if (elements[0].str == "reset") {
    page.reset = true;
    co_return page;
  }
  if (elements.size() < 2 || elements.size() % 2 != 0 || !elements[1].IsString()) {
    co_return BadReply("page", *reply);
  }
  page.cursor = elements[1].str;
  page.revoked.reserve((elements.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < elements.size(); i += 2) {
    const auto expires_ms =
        elements[i + 1].IsString() ? ParseMs(elements[i + 1].str) : std::optional<std::int64_t>();
    if (!elements[i].IsString() || !expires_ms) co_return BadReply("page entry", *reply);
    Revocation revocation;
    revocation.session_id = elements[i].str;
    revocation.expires_at = WallTime(std::chrono::milliseconds(*expires_ms));
    page.revoked.push_back(std::move(revocation));
  }
  co_return page;
}

}  // namespace trellis::adapters::redis
