// RedisCache against a real redis-server: the cache contract suite, and the evictions sampled
// from INFO stats.
#include "adapters/redis/redis_cache.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "adapters/redis/redis_ports_test_util.hpp"
#include "tests/contract/cache_contract.hpp"

namespace trellis::adapters::redis {
namespace {

using platform::ports::CacheWrite;
using std::chrono::milliseconds;
using testing::Deadline;
using testing::HopCache;
using testing::LoopAndClient;
using testing::SharedServer;
using tests::contract::CacheAdapter;
using tests::contract::CacheContract;
using tests::contract::CacheHarness;

class RedisCacheHarness final : public CacheHarness {
 public:
  RedisCacheHarness() { SharedServer().Cli("FLUSHALL"); }
  // CacheHarness
  platform::ports::Cache& Cache() override { return hop_; }
  const platform::core::Clock& Clock() override { return platform::core::SystemClock::Instance(); }
  void Elapse(milliseconds d) override { std::this_thread::sleep_for(d); }

 private:
  LoopAndClient redis_{SharedServer().Port()};
  RedisCache cache_{redis_.client, platform::core::SystemClock::Instance(), RedisCacheSettings{}};
  HopCache hop_{cache_, redis_.Io()};
};

INSTANTIATE_TEST_SUITE_P(Redis, CacheContract,
                         ::testing::Values(CacheAdapter{
                             "redis", [] { return std::make_unique<RedisCacheHarness>(); }}),
                         tests::contract::CacheAdapterName);

std::vector<CacheWrite> Writes(int from, int to, std::size_t size) {
  std::vector<CacheWrite> writes;
  for (int i = from; i < to; ++i) {
    CacheWrite w;
    w.key = "fill:" + std::to_string(i);
    w.value = std::string(size, 'x');
    w.ttl = milliseconds(60'000);
    writes.push_back(std::move(w));
  }
  return writes;
}

class RedisCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = tests::support::RedisServer::Start();
    redis_ = std::make_unique<LoopAndClient>(server_->Port());
  }
  void TearDown() override {
    redis_.reset();
    server_.reset();
  }
  std::unique_ptr<tests::support::RedisServer> server_;
  std::unique_ptr<LoopAndClient> redis_;
};

TEST_F(RedisCacheTest, EvictionsAreTheServersEvictedKeysSinceTheFirstSample) {
  RedisCacheSettings settings;
  settings.key_prefix = "c:";
  RedisCache cache(redis_->client, platform::core::SystemClock::Instance(), settings);
  ASSERT_TRUE(redis_->Run(cache.RefreshServerStats(Deadline(milliseconds(1000)))).has_value());
  EXPECT_EQ(cache.Stats().evictions, 0u);

  server_->Cli("CONFIG", "SET", "maxmemory", "2mb");
  server_->Cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
  for (int batch = 0; batch < 10; ++batch) {
    auto set = redis_->Run(
        cache.Set(Writes(batch * 100, batch * 100 + 100, 4096), Deadline(milliseconds(2000))));
    ASSERT_TRUE(set.has_value()) << set.error().internal;
  }
  ASSERT_TRUE(redis_->Run(cache.RefreshServerStats(Deadline(milliseconds(1000)))).has_value());
  const std::string info = server_->Cli("INFO", "stats");
  const auto at = info.find("evicted_keys:");
  ASSERT_NE(at, std::string::npos) << info;
  const auto evicted = std::stoull(info.substr(at + 13));
  EXPECT_GT(cache.Stats().evictions, 0u);
  // Redis may evict a few more while running the cli's own INFO (every command can evict).
  EXPECT_LE(cache.Stats().evictions, evicted);
  EXPECT_GE(cache.Stats().evictions + 50, evicted);
  // Round trips are the adapter's own calls: one per Set.
  EXPECT_EQ(cache.Stats().round_trips, 10u);
}

TEST_F(RedisCacheTest, StatsSamplesOnItsExecutorAtMostOncePerInterval) {
  RedisCacheSettings settings;
  settings.stats_interval = milliseconds(300);
  RedisCache cache(redis_->client, platform::core::SystemClock::Instance(), settings,
                   redis_->Io().get_executor());
  const auto infos = [&] {
    const std::string stats = server_->Cli("INFO", "commandstats");
    const auto at = stats.find("cmdstat_info:calls=");
    return at == std::string::npos ? 0 : std::stoi(stats.substr(at + 19));
  };
  // The cli's own INFO calls count too: compare before/after around Stats() calls only.
  const int before = infos();
  for (int i = 0; i < 50; ++i) {
    (void)cache.Stats();
    std::this_thread::sleep_for(milliseconds(2));
  }
  std::this_thread::sleep_for(milliseconds(100));
  // One sample for the first Stats(); the next is due only after 300 ms. (+1: the cli's INFO.)
  EXPECT_EQ(infos() - before, 1 + 1);

  server_->Cli("CONFIG", "SET", "maxmemory", "1mb");
  server_->Cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
  for (int batch = 0; batch < 5; ++batch) {
    ASSERT_TRUE(redis_
                    ->Run(cache.Set(Writes(batch * 100, batch * 100 + 100, 4096),
                                    Deadline(milliseconds(2000))))
                    .has_value());
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (cache.Stats().evictions == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_GT(cache.Stats().evictions, 0u);
}

TEST_F(RedisCacheTest, KeysCarryThePrefix) {
  RedisCacheSettings settings;
  settings.key_prefix = "tenant-x:";
  RedisCache cache(redis_->client, platform::core::SystemClock::Instance(), settings);
  CacheWrite w;
  w.key = "k";
  w.value = "v";
  w.ttl = milliseconds(5000);
  std::vector<CacheWrite> writes;
  writes.push_back(std::move(w));
  ASSERT_TRUE(redis_->Run(cache.Set(std::move(writes), Deadline(milliseconds(1000)))).has_value());
  EXPECT_EQ(server_->Cli("GET", "tenant-x:k"), "v");
  const auto ttl = std::stoi(server_->Cli("PTTL", "tenant-x:k"));
  EXPECT_GT(ttl, 4000);
  EXPECT_LE(ttl, 5000);
}

}  // namespace
}  // namespace trellis::adapters::redis
