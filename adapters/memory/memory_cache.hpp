// The embedded cache: the Cache port as a sharded in-process LRU with per-entry TTLs, bounded by
// entries and bytes. Keys hash to one of `shards` shards, each an LRU list under its own mutex,
// so event-loop threads contend only when they touch the same shard and never wait for anything
// else. Expired entries are never returned (they are dropped when met); entries dropped to make
// room are counted as evictions. The distributed shape uses adapters/redis instead; both pass
// tests/contract/cache_contract.
//
//   MemoryCache cache(CacheSettings{}, clock);
//   auto values = co_await cache.Get(std::move(keys), deadline);
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"
#include "platform/ports/cache.hpp"

namespace trellis::adapters::memory {

struct CacheSettings {
  // Entries kept at most, over all shards (each shard keeps its share).
  std::size_t max_entries = 100'000;
  // Bytes kept at most (keys + values + a fixed per-entry overhead), over all shards. A value
  // larger than one shard's share is not kept.
  std::size_t max_bytes = std::size_t{64} << 20;
  // Independent LRU lists, each under its own mutex.
  std::size_t shards = 16;
};

// What one entry costs beyond its key and value (list node, index slot, expiry); an estimate,
// so that many tiny entries are bounded by bytes too.
inline constexpr std::size_t kCacheEntryOverhead = 96;

class MemoryCache final : public platform::ports::Cache {
 public:
  MemoryCache(CacheSettings settings, const platform::core::Clock& clock);
  ~MemoryCache() override;
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  // Entries held now, and their cost in bytes (expired ones not yet dropped included).
  [[nodiscard]] std::size_t Entries() const;
  [[nodiscard]] std::size_t Bytes() const;

  // Cache
  [[nodiscard]] platform::ports::CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] platform::ports::CacheAwaitable<void> Set(
      std::vector<platform::ports::CacheWrite> entries,
      platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] platform::ports::CacheAwaitable<void> Delete(
      std::vector<std::string> keys, platform::core::Clock::MonoTime deadline) override;
  [[nodiscard]] platform::ports::CacheAdapterStats Stats() const override;

 private:
  struct Node {
    std::string key;
    std::string value;
    platform::core::Clock::MonoTime expires;
    std::size_t cost = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::list<Node> lru;  // most recently used first; guarded by mutex
    // Views into the nodes' keys (list nodes never move); guarded by mutex.
    std::unordered_map<std::string_view, std::list<Node>::iterator> index;
    std::size_t bytes = 0;  // guarded by mutex
  };

  Shard& ShardOf(std::string_view key);
  std::optional<std::string> GetOne(std::string_view key, platform::core::Clock::MonoTime now);
  void SetOne(platform::ports::CacheWrite entry, platform::core::Clock::MonoTime now);
  void DeleteOne(std::string_view key);
  // Unlinks one node; shard.mutex held.
  static void Erase(Shard& shard, std::list<Node>::iterator it);
  // Drops least recently used entries until the shard is within its bounds; shard.mutex held.
  void Trim(Shard& shard, platform::core::Clock::MonoTime now);

  const platform::core::Clock& clock_;
  const std::size_t shard_entries_;
  const std::size_t shard_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> round_trips_{0};
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace trellis::adapters::memory
