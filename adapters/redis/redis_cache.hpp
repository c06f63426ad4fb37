// The Redis adapter of the cache port (platform/ports/cache.hpp): the distributed shape's
// shared cache, under cache-aside (platform/cache/cache_aside.hpp). Each call is one round trip
// on the shared RedisClient: Get is one MGET, Set one pipeline of `SET key value PX ttl [NX]`,
// Delete one DEL. Failures (unreachable, frozen, deadline) are errors the caller falls through.
//
// Evictions are the server's `evicted_keys` (INFO stats), never read on a request's path:
// Stats() returns the last sample and, when it is older than `stats_interval`, starts one new
// sample on `stats_executor` (at most one in flight), so a metrics scrape every few seconds
// keeps it fresh at one INFO per interval. RefreshServerStats() samples on demand.
//
//   RedisCache cache(client, clock, RedisCacheSettings{}, loop.get_executor());
//   auto values = co_await cache.Get(std::move(keys), deadline);   // one MGET
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/redis/redis_client.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/cache.hpp"

namespace trellis::adapters::redis {

struct RedisCacheSettings {
  // Before every key (cache-aside adds its own "trellis:" prefix; empty by default).
  std::string key_prefix;
  // How old the evictions sample may be before Stats() starts a new one.
  std::chrono::milliseconds stats_interval{1000};
  // Bounds one INFO stats sample.
  std::chrono::milliseconds stats_timeout{500};
};

class RedisCache final : public platform::ports::Cache {
 public:
  // `client` and `clock` must outlive this. Without `stats_executor` (a default-constructed
  // executor) evictions change only through RefreshServerStats().
  RedisCache(RedisClient& client, const platform::core::Clock& clock, RedisCacheSettings settings,
             boost::asio::any_io_executor stats_executor = {});
  ~RedisCache() override;
  RedisCache(const RedisCache&) = delete;
  RedisCache& operator=(const RedisCache&) = delete;

  // One INFO stats now: folds the server's evicted_keys into Stats().evictions.
  [[nodiscard]] boost::asio::awaitable<platform::core::Result<void>> RefreshServerStats(
      platform::core::Clock::MonoTime deadline);

  // Cache
  [[nodiscard]] platform::ports::CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] platform::ports::CacheAwaitable<void> Set(
      std::vector<platform::ports::CacheWrite> entries,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] platform::ports::CacheAwaitable<void> Delete(
      std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) override;
  // round_trips: calls Redis answered (one per Get/Set/Delete). evictions: the server's
  // evicted_keys counted from this adapter's first sample on (a server restart or failover
  // restarts the server's count; the sum here keeps growing).
  [[nodiscard]] platform::ports::CacheAdapterStats Stats() const override;

  struct State;

 private:
  RedisClient& client_;
  const platform::core::Clock& clock_;
  const RedisCacheSettings settings_;
  boost::asio::any_io_executor stats_executor_;
  std::shared_ptr<State> state_;  // shared with a sample in flight
};

}  // namespace trellis::adapters::redis
