#include "adapters/memory/memory_cache.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace trellis::adapters::memory {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::CacheAdapterStats;
using platform::ports::CacheWrite;
using MonoTime = platform::core::Clock::MonoTime;

namespace {

std::size_t PerShard(std::size_t total, std::size_t shards) {
  return std::max<std::size_t>(1, (total + shards - 1) / shards);
}

Result<void> CheckDeadline(const platform::core::Clock& clock, MonoTime deadline) {
  if (clock.Monotonic() >= deadline) {
    return platform::core::Fail(ErrorCode::kDeadlineExceeded, "deadline exceeded",
                                "cache call after its deadline");
  }
  return {};
}

}  // namespace

MemoryCache::MemoryCache(CacheSettings settings, const platform::core::Clock& clock)
    : clock_(clock),
      shard_entries_(PerShard(settings.max_entries, std::max<std::size_t>(1, settings.shards))),
      shard_bytes_(PerShard(settings.max_bytes, std::max<std::size_t>(1, settings.shards))) {
  const std::size_t n = std::max<std::size_t>(1, settings.shards);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

MemoryCache::~MemoryCache() = default;

MemoryCache::Shard& MemoryCache::ShardOf(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

void MemoryCache::Erase(Shard& shard, std::list<Node>::iterator it) {
  shard.bytes -= it->cost;
  shard.index.erase(std::string_view(it->key));
  shard.lru.erase(it);
}

void MemoryCache::Trim(Shard& shard, MonoTime now) {
  while (!shard.lru.empty() && (shard.lru.size() > shard_entries_ || shard.bytes > shard_bytes_)) {
    auto victim = std::prev(shard.lru.end());
    // An expired entry leaving is an expiry, not an eviction.
    if (victim->expires > now) evictions_.fetch_add(1, std::memory_order_relaxed);
    Erase(shard, victim);
  }
}

std::optional<std::string> MemoryCache::GetOne(std::string_view key, MonoTime now) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return std::nullopt;
  auto it = found->second;
  if (it->expires <= now) {
    Erase(shard, it);
    return std::nullopt;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it);
  return it->value;
}

void MemoryCache::SetOne(CacheWrite entry, MonoTime now) {
  Shard& shard = ShardOf(entry.key);
  const std::size_t cost = entry.key.size() + entry.value.size() + kCacheEntryOverhead;
  std::lock_guard lock(shard.mutex);
  if (auto found = shard.index.find(entry.key); found != shard.index.end()) {
    if (entry.only_if_absent && found->second->expires > now) return;
    Erase(shard, found->second);
  }
  // Too large to keep: the old value is gone (it would be stale), the new one is not kept.
  if (cost > shard_bytes_) return;
  Node node;
  node.key = std::move(entry.key);
  node.value = std::move(entry.value);
  node.expires = now + entry.ttl;
  node.cost = cost;
  shard.lru.push_front(std::move(node));
  shard.index.emplace(std::string_view(shard.lru.front().key), shard.lru.begin());
  shard.bytes += cost;
  Trim(shard, now);
}

void MemoryCache::DeleteOne(std::string_view key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  if (auto found = shard.index.find(key); found != shard.index.end()) Erase(shard, found->second);
}

std::size_t MemoryCache::Entries() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->lru.size();
  }
  return n;
}

std::size_t MemoryCache::Bytes() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->bytes;
  }
  return n;
}

platform::ports::CacheAwaitable<std::vector<std::optional<std::string>>> MemoryCache::Get(
    std::vector<std::string> keys, MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  const MonoTime now = clock_.Monotonic();
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  for (const std::string& key : keys) values.push_back(GetOne(key, now));
  co_return values;
}

platform::ports::CacheAwaitable<void> MemoryCache::Set(std::vector<CacheWrite> entries,
                                                       MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  for (const CacheWrite& entry : entries) {
    if (entry.ttl <= std::chrono::milliseconds::zero()) {
      co_return platform::core::Fail(ErrorCode::kInvalidArgument, "invalid cache ttl",
                                     "cache ttl must be > 0 (key " + entry.key + ")");
    }
  }
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  const MonoTime now = clock_.Monotonic();
  for (CacheWrite& entry : entries) SetOne(std::move(entry), now);
  co_return Result<void>();
}

platform::ports::CacheAwaitable<void> MemoryCache::Delete(std::vector<std::string> keys,
                                                          MonoTime deadline) {
  if (auto ok = CheckDeadline(clock_, deadline); !ok) co_return std::unexpected(ok.error());
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  for (const std::string& key : keys) DeleteOne(key);
  co_return Result<void>();
}

CacheAdapterStats MemoryCache::Stats() const {
  CacheAdapterStats stats;
  stats.round_trips = round_trips_.load(std::memory_order_relaxed);
  stats.evictions = evictions_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace trellis::adapters::memory
