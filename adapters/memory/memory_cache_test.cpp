#include "adapters/memory/memory_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/contract/cache_contract.hpp"

namespace trellis::adapters::memory {
namespace {

using platform::core::ManualClock;
using platform::ports::CacheWrite;
using platform::ports::RunSync;
using std::chrono::milliseconds;
using tests::contract::CacheAdapter;
using tests::contract::CacheContract;
using tests::contract::CacheHarness;

class MemoryCacheHarness final : public CacheHarness {
 public:
  // CacheHarness
  platform::ports::Cache& Cache() override { return cache_; }
  const platform::core::Clock& Clock() override { return clock_; }
  void Elapse(milliseconds d) override { clock_.Advance(d); }

 private:
  ManualClock clock_;
  MemoryCache cache_{CacheSettings{}, clock_};
};

INSTANTIATE_TEST_SUITE_P(Memory, CacheContract,
                         ::testing::Values(CacheAdapter{
                             "memory", [] { return std::make_unique<MemoryCacheHarness>(); }}),
                         tests::contract::CacheAdapterName);

// The same adapter on the system clock, time passing by sleeping: the suite as a real server's
// harness runs it (short TTLs, sleeps, tolerances), checked here where it cannot be flaky for
// network reasons.
class MemoryCacheRealTimeHarness final : public CacheHarness {
 public:
  // CacheHarness
  platform::ports::Cache& Cache() override { return cache_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  MemoryCache cache_{CacheSettings{}, platform::core::SystemClock::Instance()};
};

INSTANTIATE_TEST_SUITE_P(MemoryRealTime, CacheContract,
                         ::testing::Values(CacheAdapter{
                             "memory_real_time",
                             [] { return std::make_unique<MemoryCacheRealTimeHarness>(); }}),
                         tests::contract::CacheAdapterName);

class MemoryCacheTest : public ::testing::Test {
 protected:
  platform::core::Clock::MonoTime Deadline() const {
    return clock_.Monotonic() + std::chrono::seconds(1);
  }
  void Put(MemoryCache& cache, std::string key, std::string value,
           milliseconds ttl = milliseconds(60'000)) {
    CacheWrite w;
    w.key = std::move(key);
    w.value = std::move(value);
    w.ttl = ttl;
    std::vector<CacheWrite> writes;
    writes.push_back(std::move(w));
    auto r = RunSync(cache.Set(std::move(writes), Deadline()));
    ASSERT_TRUE(r.has_value()) << r.error().internal;
  }
  std::optional<std::string> Read(MemoryCache& cache, std::string key) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    auto r = RunSync(cache.Get(std::move(keys), Deadline()));
    EXPECT_TRUE(r.has_value());
    if (!r || r->size() != 1) return std::nullopt;
    return r->front();
  }

  ManualClock clock_;
};

TEST_F(MemoryCacheTest, EntryBoundEvictsTheLeastRecentlyUsed) {
  CacheSettings settings;
  settings.shards = 1;
  settings.max_entries = 3;
  MemoryCache cache(settings, clock_);
  Put(cache, "a", "1");
  Put(cache, "b", "2");
  Put(cache, "c", "3");
  EXPECT_EQ(Read(cache, "a"), "1");  // a is now the most recently used; b the least
  Put(cache, "d", "4");
  EXPECT_EQ(cache.Entries(), 3u);
  EXPECT_EQ(cache.Stats().evictions, 1u);
  EXPECT_EQ(Read(cache, "b"), std::nullopt);
  EXPECT_EQ(Read(cache, "a"), "1");
  EXPECT_EQ(Read(cache, "c"), "3");
  EXPECT_EQ(Read(cache, "d"), "4");
}

TEST_F(MemoryCacheTest, ByteBoundEvictsUntilTheNewEntryFits) {
  const std::size_t entry = 1 + 100 + kCacheEntryOverhead;
  CacheSettings settings;
  settings.shards = 1;
  settings.max_bytes = 3 * entry;
  MemoryCache cache(settings, clock_);
  for (const char* key : {"a", "b", "c"}) Put(cache, key, std::string(100, 'x'));
  EXPECT_EQ(cache.Bytes(), 3 * entry);
  EXPECT_EQ(cache.Stats().evictions, 0u);
  // Two entries' worth of value: the two least recently used make room.
  Put(cache, "d", std::string(100 + entry, 'y'));
  EXPECT_EQ(cache.Stats().evictions, 2u);
  EXPECT_LE(cache.Bytes(), settings.max_bytes);
  EXPECT_EQ(Read(cache, "a"), std::nullopt);
  EXPECT_EQ(Read(cache, "b"), std::nullopt);
  EXPECT_EQ(Read(cache, "c"), std::string(100, 'x'));
  EXPECT_TRUE(Read(cache, "d").has_value());
}

TEST_F(MemoryCacheTest, ValueLargerThanAShardIsNotKeptAndDropsTheOldOne) {
  CacheSettings settings;
  settings.shards = 1;
  settings.max_bytes = 1000;
  MemoryCache cache(settings, clock_);
  Put(cache, "k", "small");
  Put(cache, "other", "v");
  Put(cache, "k", std::string(2000, 'z'));
  EXPECT_EQ(Read(cache, "k"), std::nullopt);
  EXPECT_EQ(Read(cache, "other"), "v");
  EXPECT_EQ(cache.Stats().evictions, 0u);
}

TEST_F(MemoryCacheTest, ExpiredEntriesLeavingAreNotEvictions) {
  CacheSettings settings;
  settings.shards = 1;
  settings.max_entries = 2;
  MemoryCache cache(settings, clock_);
  Put(cache, "short", "s", milliseconds(100));
  Put(cache, "long", "l");
  EXPECT_EQ(Read(cache, "long"), "l");  // short is the least recently used
  clock_.Advance(milliseconds(100));
  Put(cache, "new", "n");
  EXPECT_EQ(cache.Stats().evictions, 0u);
  EXPECT_EQ(cache.Entries(), 2u);
  EXPECT_EQ(Read(cache, "long"), "l");
  EXPECT_EQ(Read(cache, "new"), "n");
  // An expired entry met by a read is dropped, and not counted either.
  Put(cache, "long", "l2", milliseconds(50));
  clock_.Advance(milliseconds(50));
  EXPECT_EQ(Read(cache, "long"), std::nullopt);
  EXPECT_EQ(cache.Entries(), 1u);
  EXPECT_EQ(cache.Stats().evictions, 0u);
}

TEST_F(MemoryCacheTest, EntryExpiresExactlyAtItsTtl) {
  MemoryCache cache(CacheSettings{}, clock_);
  Put(cache, "k", "v", milliseconds(100));
  clock_.Advance(milliseconds(99));
  EXPECT_EQ(Read(cache, "k"), "v");
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(Read(cache, "k"), std::nullopt);
}

TEST_F(MemoryCacheTest, ShardsStayBoundedUnderThreads) {
  CacheSettings settings;
  settings.shards = 16;
  settings.max_entries = 1000;  // 63 per shard
  MemoryCache cache(settings, clock_);
  constexpr int kThreads = 4;
  constexpr int kKeys = 2000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = std::to_string(t) + ":" + std::to_string(i);
        CacheWrite w;
        w.key = key;
        w.value = "v" + key;
        w.ttl = milliseconds(60'000);
        std::vector<CacheWrite> writes;
        writes.push_back(std::move(w));
        if (!RunSync(cache.Set(std::move(writes), Deadline()))) ++failures;
        std::vector<std::string> keys;
        keys.push_back(key);
        auto got = RunSync(cache.Get(std::move(keys), Deadline()));
        // Just written: another thread may have evicted it since, but never changed it.
        if (!got || (got->front() && *got->front() != "v" + key)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const std::size_t entries = cache.Entries();
  EXPECT_LE(entries, 16u * 63u);
  // Keys spread over the shards: nearly every shard is full.
  EXPECT_GE(entries, 900u);
  // Every key was new: each one written is either held or was evicted.
  EXPECT_EQ(cache.Stats().evictions + entries, std::uint64_t{kThreads} * kKeys);
  EXPECT_EQ(cache.Stats().round_trips, std::uint64_t{2} * kThreads * kKeys);
}

}  // namespace
}  // namespace trellis::adapters::memory
