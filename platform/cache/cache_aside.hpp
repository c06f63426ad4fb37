// Cache-aside reads over the cache port (platform/ports/cache.hpp), the same on the in-process
// cache and on Redis (ADR 0019):
//
// - Namespaces, versioned. Entries live in a namespace such as "work:<org>"; the namespace has
//   a generation (a random token under "<prefix><ns>:g") and every entry records the generation
//   it was filled under. Invalidate gives the namespace a new generation, so all its entries
//   stop matching at once, in every process that shares the cache. Generations are random, not
//   counters, so an evicted generation key can never come back with an old value.
// - One round trip for all the reads of a request: Read takes every entry the request needs
//   (several namespaces) and fetches the generations and the entries in one Get.
// - No stale fill: a miss hands back the generation seen before the store was read; Fill stores
//   under that generation, so a value read before a concurrent invalidation never matches. A
//   miss with no generation first creates one (SET NX, then read back), before the store is
//   read, and fills under it.
// - Stampede protection: single flight per entry within the process (concurrent misses wait for
//   one load), and probabilistic early refresh across processes (XFetch: a hit close to its
//   expiry is, with rising probability, treated as a miss by one caller, which refreshes it
//   while the others keep hitting).
// - TTL jitter (± settings.jitter) so entries filled together do not expire together.
// - Metrics: trellis_cache_{hits,misses,fills,errors}_total{cache=<name>}, plus the adapter's
//   round trips and evictions.
//
// A cache error is never a request error: reads fall through to the store (counted), fills and
// invalidations that fail are counted and logged, and TTLs bound how long anything can be stale.
//
//   auto slots = co_await cache.Read(refs, deadline);          // one round trip
//   auto page = co_await cache.Load(refs[1], slots[1], deadline, [&]() { return ReadPage(); });
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/cache.hpp"

namespace trellis::platform::cache {

// One entry: its namespace (invalidated as a whole) and its key within it.
struct CacheRef {
  CacheRef() = default;
  CacheRef(std::string ns_in, std::string key_in) : ns(std::move(ns_in)), key(std::move(key_in)) {}
  std::string ns;
  std::string key;
};

// What Read found for one entry.
struct CacheSlot {
  std::optional<std::string> value;  // a hit
  // The namespace's generation when it was read (empty: none yet, or the cache failed). Hand
  // it to Fill/Load unchanged.
  std::string generation;
};

struct CacheAsideSettings {
  std::string prefix = "trellis:";  // before every key: several deployments may share a server
  std::chrono::milliseconds ttl{std::chrono::minutes(5)};
  double jitter = 0.1;              // TTLs are spread over ttl × [1 − jitter, 1 + jitter]
  double early_refresh_beta = 1.0;  // XFetch's β; 0 turns early refresh off
  // How long a caller waits for another caller's load of the same entry before loading itself.
  std::chrono::milliseconds flight_wait{std::chrono::seconds(2)};
  // How long a namespace's generation is kept once set (touched by every read in the
  // in-process cache). Only efficiency depends on it: a lost generation is a new one.
  std::chrono::milliseconds generation_ttl{std::chrono::hours(24)};
  // A near cache in this process, for a remote cache (Redis): entries read or filled are kept
  // here too, tagged with their generation, and a Read then asks the remote cache only for the
  // generations (a few bytes) — the entry is served locally when its generation is still the
  // current one, so nothing stale is served. 0 entries: off (the in-process adapter needs none).
  std::size_t near_entries = 0;
  std::size_t near_bytes = std::size_t{64} << 20;
};

class CacheAside {
 public:
  using Loader = std::function<boost::asio::awaitable<core::Result<std::string>>()>;

  // `cache`, `clock` and `metrics` must outlive this. `name` labels the metrics.
  CacheAside(ports::Cache& cache, const core::Clock& clock, observe::Registry& metrics,
             std::string name, CacheAsideSettings settings = {});
  ~CacheAside();
  CacheAside(const CacheAside&) = delete;
  CacheAside& operator=(const CacheAside&) = delete;

  // The entries' values (or misses) in one round trip. Never fails: a cache error reads as
  // all misses with no generation (nothing will be filled).
  [[nodiscard]] boost::asio::awaitable<std::vector<CacheSlot>> Read(std::vector<CacheRef> refs,
                                                                    core::Clock::MonoTime deadline);

  // The value for a slot from Read: the hit itself, or `load` run once per entry within this
  // process (callers missing the same entry meanwhile get its result) and its success filled
  // under the slot's generation. Errors of `load` are returned and not cached.
  [[nodiscard]] boost::asio::awaitable<core::Result<std::string>> Load(
      CacheRef ref, CacheSlot slot, core::Clock::MonoTime deadline, Loader load);

  // Read + Load for one entry.
  [[nodiscard]] boost::asio::awaitable<core::Result<std::string>> Get(
      CacheRef ref, core::Clock::MonoTime deadline, Loader load);

  // Stores `value` under `generation` (from Read, or EnsureGeneration); nothing if empty.
  [[nodiscard]] boost::asio::awaitable<void> Fill(CacheRef ref, std::string generation,
                                                  std::string value,
                                                  std::chrono::milliseconds load_time,
                                                  core::Clock::MonoTime deadline);

  // New generations for the namespaces (deduplicated), in one round trip.
  [[nodiscard]] boost::asio::awaitable<core::Result<void>> Invalidate(
      std::vector<std::string> namespaces, core::Clock::MonoTime deadline);

  struct Stats {
    std::uint64_t near_hits = 0;  // hits served from the near cache (also counted in hits)
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t fills = 0;
    std::uint64_t errors = 0;
    std::uint64_t shared_loads = 0;  // misses answered by another caller's load
    std::uint64_t early_refreshes = 0;
  };
  [[nodiscard]] Stats GetStats() const;
  [[nodiscard]] ports::Cache& Port() { return cache_; }

 private:
  struct Flight;
  [[nodiscard]] std::string GenerationKey(const std::string& ns) const;
  [[nodiscard]] std::string EntryKey(const CacheRef& ref) const;
  [[nodiscard]] std::chrono::milliseconds JitteredTtl() const;
  // The namespace's generation, set now if it has none; empty when the cache fails.
  [[nodiscard]] boost::asio::awaitable<std::string> EnsureGeneration(
      const std::string& ns, core::Clock::MonoTime deadline);
  [[nodiscard]] bool RefreshEarly(std::int64_t expiry_ms, std::int64_t delta_ms) const;

  ports::Cache& cache_;
  const core::Clock& clock_;
  const CacheAsideSettings settings_;
  observe::Counter& hits_;
  observe::Counter& misses_;
  observe::Counter& fills_;
  observe::Counter& errors_;
  observe::Counter& shared_loads_;
  observe::Counter& early_refreshes_;
  observe::Counter& near_hits_;

  std::mutex flights_mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // guarded by flights_mu_

  // The near cache: entry key -> stored form (generation, expiry, delta, value), LRU.
  struct Near;
  std::unique_ptr<Near> near_;
  [[nodiscard]] std::shared_ptr<const std::string> NearFind(const std::string& key);
  void NearPut(const std::string& key, std::shared_ptr<const std::string> stored);
};

}  // namespace trellis::platform::cache
