// The cache port: a shared key-value cache with per-entry TTL, the store behind cache-aside
// reads (platform/cache/cache_aside.hpp puts namespaces, versions, stampede protection and
// metrics on top). The embedded shape keeps it in process (adapters/memory), the distributed
// shape in Redis (adapters/redis). Each call is one round trip, whatever the number of keys.
//
// A cache may forget anything at any time (eviction, a restart): callers treat every value as
// a hint that the system of record can rebuild. Errors (unreachable, deadline) are values; the
// caller falls through to its store.
//
//   std::vector<std::string> keys;  keys.push_back("w:org1:g"); keys.push_back("w:org1:p:7");
//   auto values = co_await cache.Get(std::move(keys), deadline);   // one round trip
//   CacheWrite w;  w.key = "w:org1:p:7";  w.value = json;  w.ttl = 30s;
//   std::vector<CacheWrite> writes;  writes.push_back(std::move(w));
//   co_await cache.Set(std::move(writes), deadline);
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"

namespace trellis::platform::ports {

template <typename T>
using CacheAwaitable = boost::asio::awaitable<core::Result<T>>;

// One entry to store. Not an aggregate initialised inside co_await (g++ 12; ADR 0004): fill a
// named variable, then move it.
struct CacheWrite {
  std::string key;
  std::string value;
  std::chrono::milliseconds ttl{0};  // > 0
  bool only_if_absent = false;       // leave an existing value alone (SET NX)
};

// What an adapter counts itself; the cache-aside layer counts hits, misses and fills.
struct CacheAdapterStats {
  std::uint64_t round_trips = 0;  // calls that reached the cache (one per Get/Set/Delete)
  std::uint64_t evictions = 0;    // entries dropped to make room (not expiries); as known
};

class Cache {
 public:
  virtual ~Cache() = default;

  // The values of `keys`, in order; nullopt for a key that is absent or expired.
  [[nodiscard]] virtual CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys, core::Clock::MonoTime deadline) = 0;

  // Stores the entries (each with its own TTL). Per entry, not all or nothing.
  [[nodiscard]] virtual CacheAwaitable<void> Set(std::vector<CacheWrite> entries,
                                                 core::Clock::MonoTime deadline) = 0;

  // Removes the keys; absent keys are not an error.
  [[nodiscard]] virtual CacheAwaitable<void> Delete(std::vector<std::string> keys,
                                                    core::Clock::MonoTime deadline) = 0;

  [[nodiscard]] virtual CacheAdapterStats Stats() const = 0;
};

}  // namespace trellis::platform::ports
