#include "adapters/redis/redis_cache.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <utility>

namespace trellis::adapters::redis {

namespace asio = boost::asio;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::CacheAdapterStats;
using platform::ports::CacheWrite;

struct RedisCache::State {
  std::atomic<std::uint64_t> round_trips{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<bool> sampling{false};  // a sample started by Stats() is in flight
  std::mutex mu;
  bool sampled = false;            // guarded by mu: a first sample set the baseline
  bool attempted = false;          // guarded by mu: a sample succeeded or failed at sampled_at
  std::uint64_t last_evicted = 0;  // guarded by mu: the server's count at the last sample
  platform::core::Clock::MonoTime sampled_at{};  // guarded by mu
};

namespace {

Result<void> CheckDeadline(const platform::core::Clock& clock,
                           platform::core::Clock::MonoTime deadline) {
  if (clock.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "redis cache call after its deadline");
  }
  return {};
}

// A reply the cache cannot use (an error reply such as OOM or WRONGTYPE): the call failed, the
// caller falls through to its store.
std::unexpected<platform::core::Error> BadReply(std::string_view what, const RedisReply& reply) {
  return platform::core::Fail(ErrorCode::kUnavailable, "cache unavailable",
                              std::string("redis cache ") + std::string(what) + ": " +
                                  (reply.IsError() ? reply.str : "unexpected reply type"));
}

// evicted_keys from an INFO stats reply; nullopt when absent.
std::optional<std::uint64_t> EvictedKeys(std::string_view info) {
  constexpr std::string_view kField = "evicted_keys:";
  const auto at = info.find(kField);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = info.data() + at + kField.size();
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(begin, info.data() + info.size(), n);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  return n;
}

asio::awaitable<Result<void>> Sample(RedisClient& client, std::shared_ptr<RedisCache::State> state,
                                     const platform::core::Clock& clock,
                                     platform::core::Clock::MonoTime deadline) {
  RedisCommand info;
  info.emplace_back("INFO");
  info.emplace_back("stats");
  auto reply = co_await client.Command(std::move(info), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  if (!reply->IsString()) co_return BadReply("INFO stats", *reply);
  const auto evicted = EvictedKeys(reply->str);
  if (!evicted) {
    co_return platform::core::Fail(ErrorCode::kUnavailable, "cache unavailable",
                                   "INFO stats has no evicted_keys");
  }
  std::lock_guard lock(state->mu);
  if (state->sampled) {
    // The server's count restarts with the server (a restart, a promoted replica): count what
    // it shows since then.
    const std::uint64_t delta =
        *evicted >= state->last_evicted ? *evicted - state->last_evicted : *evicted;
    state->evictions.fetch_add(delta, std::memory_order_relaxed);
  }
  state->sampled = true;
  state->attempted = true;
  state->last_evicted = *evicted;
  state->sampled_at = clock.Monotonic();
  co_return Result<void>();
}

}  // namespace

RedisCache::RedisCache(RedisClient& client, const platform::core::Clock& clock,
                       RedisCacheSettings settings, asio::any_io_executor stats_executor)
    : client_(client),
      clock_(clock),
      settings_(std::move(settings)),
      stats_executor_(std::move(stats_executor)),
      state_(std::make_shared<State>()) {}

RedisCache::~RedisCache() = default;

asio::awaitable<Result<std::vector<std::optional<std::string>>>> RedisCache::Get(
    std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  std::vector<std::optional<std::string>> values;
  if (keys.empty()) co_return values;
  RedisCommand mget;
  mget.reserve(keys.size() + 1);
  mget.emplace_back("MGET");
  for (auto& key : keys) mget.push_back(settings_.key_prefix + key);
  auto reply = co_await client_.Command(std::move(mget), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  state_->round_trips.fetch_add(1, std::memory_order_relaxed);
  if (!reply->IsArray() || reply->elements.size() != keys.size())
    co_return BadReply("MGET", *reply);
  values.reserve(keys.size());
  for (auto& element : reply->elements) {
    if (element.IsString()) {
      values.emplace_back(std::move(element.str));
    } else {
      values.emplace_back(std::nullopt);
    }
  }
  co_return values;
}

asio::awaitable<Result<void>> RedisCache::Set(std::vector<CacheWrite> entries,
                                              platform::core::Clock::MonoTime deadline) {
  for (const CacheWrite& entry : entries) {
    if (entry.ttl <= std::chrono::milliseconds::zero()) {
      co_return platform::core::Fail(
          ErrorCode::kInvalidArgument, "invalid cache ttl",
          "cache ttl must be > 0, got " + std::to_string(entry.ttl.count()) + "ms");
    }
  }
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  if (entries.empty()) co_return Result<void>();
  std::vector<RedisCommand> pipeline;
  pipeline.reserve(entries.size());
  for (CacheWrite& entry : entries) {
    RedisCommand set;
    set.reserve(6);
    set.emplace_back("SET");
    set.push_back(settings_.key_prefix + entry.key);
    set.push_back(std::move(entry.value));
    set.emplace_back("PX");
    set.push_back(std::to_string(entry.ttl.count()));
    if (entry.only_if_absent) set.emplace_back("NX");
    pipeline.push_back(std::move(set));
  }
  auto replies = co_await client_.Pipeline(std::move(pipeline), deadline);
  if (!replies) co_return std::unexpected(replies.error());
  state_->round_trips.fetch_add(1, std::memory_order_relaxed);
  // Per entry: the others were stored. NX that found a value answers nil, which is fine.
  for (const RedisReply& reply : *replies) {
    if (reply.IsError()) co_return BadReply("SET", reply);
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> RedisCache::Delete(std::vector<std::string> keys,
                                                 platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  if (keys.empty()) co_return Result<void>();
  RedisCommand del;
  del.reserve(keys.size() + 1);
  del.emplace_back("DEL");
  for (auto& key : keys) del.push_back(settings_.key_prefix + key);
  auto reply = co_await client_.Command(std::move(del), deadline);
  if (!reply) co_return std::unexpected(reply.error());
  state_->round_trips.fetch_add(1, std::memory_order_relaxed);
  if (reply->IsError()) co_return BadReply("DEL", *reply);
  co_return Result<void>();
}

asio::awaitable<Result<void>> RedisCache::RefreshServerStats(
    platform::core::Clock::MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  co_return co_await Sample(client_, state_, clock_, deadline);
}

CacheAdapterStats RedisCache::Stats() const {
  CacheAdapterStats stats;
  stats.round_trips = state_->round_trips.load(std::memory_order_relaxed);
  stats.evictions = state_->evictions.load(std::memory_order_relaxed);
  if (!stats_executor_) return stats;
  const auto now = clock_.Monotonic();
  {
    std::lock_guard lock(state_->mu);
    if (state_->attempted && now - state_->sampled_at < settings_.stats_interval) return stats;
  }
  if (state_->sampling.exchange(true)) return stats;  // one sample in flight at most
  // On the stats executor, not the caller's: Stats() may be called from any thread (a scrape).
  asio::co_spawn(
      stats_executor_,
      [&client = client_, state = state_, &clock = clock_,
       deadline = now + settings_.stats_timeout]() -> asio::awaitable<void> {
        auto sampled = co_await Sample(client, state, clock, deadline);
        if (!sampled) {
          // Try again after an interval, not on every Stats() while Redis is away.
          std::lock_guard lock(state->mu);
          state->attempted = true;
          state->sampled_at = clock.Monotonic();
        }
        state->sampling.store(false);
      },
      asio::detached);
  return stats;
}

}  // namespace trellis::adapters::redis
