// Cache-aside over the in-process cache (the Redis adapter runs the same layer in its own
// tests): one round trip per Read, versioned namespaces, no stale fill, generations created
// before the store is read, single flight, early refresh, TTL jitter, and a failing cache
// falling through to the store.
#include "platform/cache/cache_aside.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <thread>
#include <vector>

#include "adapters/memory/memory_cache.hpp"
#include "platform/cache/invalidator.hpp"
#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"

namespace trellis::platform::cache {
namespace {

namespace asio = boost::asio;
using core::Result;
using ports::RunSync;

constexpr auto kForever = core::Clock::MonoTime::max();

CacheAside::Loader Value(std::string value, int* calls = nullptr) {
  return [value, calls]() -> asio::awaitable<Result<std::string>> {
    if (calls) ++*calls;
    co_return value;
  };
}

// A cache that is down: every call fails, as an unreachable or frozen server does.
class DownCache final : public ports::Cache {
 public:
  ports::CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> /*keys*/, core::Clock::MonoTime /*deadline*/) override {
    co_return core::Fail(core::ErrorCode::kUnavailable, "cache down");
  }
  ports::CacheAwaitable<void> Set(std::vector<ports::CacheWrite> /*entries*/,
                                  core::Clock::MonoTime /*deadline*/) override {
    co_return core::Fail(core::ErrorCode::kUnavailable, "cache down");
  }
  ports::CacheAwaitable<void> Delete(std::vector<std::string> /*keys*/,
                                     core::Clock::MonoTime /*deadline*/) override {
    co_return core::Fail(core::ErrorCode::kUnavailable, "cache down");
  }
  ports::CacheAdapterStats Stats() const override { return {}; }
};

class CacheAsideTest : public ::testing::Test {
 protected:
  CacheAsideSettings Settings() {
    CacheAsideSettings s;
    s.ttl = std::chrono::seconds(60);
    s.early_refresh_beta = 0;  // deterministic unless a test turns it on
    return s;
  }
  Result<std::string> Get(CacheAside& cache, const CacheRef& ref, CacheAside::Loader load) {
    return RunSync(cache.Get(ref, kForever, std::move(load)));
  }
  std::vector<CacheSlot> Read(CacheAside& cache, std::vector<CacheRef> refs) {
    return RunSync([&]() -> asio::awaitable<std::vector<CacheSlot>> {
      co_return co_await cache.Read(refs, kForever);
    }());
  }
  void Invalidate(CacheAside& cache, std::string ns) {
    std::vector<std::string> namespaces;
    namespaces.push_back(std::move(ns));
    auto r = RunSync(cache.Invalidate(std::move(namespaces), kForever));
    ASSERT_TRUE(r) << r.error().message;
  }

  core::ManualClock clock_;
  observe::Registry registry_;
  adapters::memory::MemoryCache memory_{adapters::memory::CacheSettings{}, clock_};
};

TEST_F(CacheAsideTest, AMissLoadsAndFillsAndTheNextReadHits) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("work:o1", "p:1");
  int calls = 0;
  ASSERT_EQ(Get(cache, ref, Value("v1", &calls)), "v1");
  ASSERT_EQ(Get(cache, ref, Value("v2", &calls)), "v1") << "served from the cache";
  EXPECT_EQ(calls, 1);
  const auto stats = cache.GetStats();
  EXPECT_EQ(stats.hits, 1U);
  EXPECT_EQ(stats.misses, 1U);
  EXPECT_EQ(stats.fills, 1U);
  EXPECT_NE(registry_.Render().find("trellis_cache_hits_total{cache=\"t\"} 1"), std::string::npos)
      << registry_.Render();
}

TEST_F(CacheAsideTest, ValuesOfAnyShapeComeBackWhole) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const std::vector<std::string> values = {"", "\n", "a\nb\n", "x\n~g 1 2",
                                           std::string(40000, 'p')};
  for (std::size_t i = 0; i < values.size(); ++i) {
    const CacheRef ref("work:o1", "v:" + std::to_string(i));
    ASSERT_EQ(Get(cache, ref, Value(values[i])), values[i]) << i;
    ASSERT_EQ(Get(cache, ref, Value("other")), values[i]) << i << ": served from the cache";
  }
  EXPECT_EQ(cache.GetStats().hits, values.size());
}

// Entries written in the layout before the value came first ("<generation> <expiry>
// <delta>\n<value>", e.g. by an older process sharing Redis) are misses, then filled anew.
TEST_F(CacheAsideTest, EntriesOfTheOlderLayoutAreMissesAndFilledAgain) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("work:o1", "p:old");
  ASSERT_EQ(Get(cache, ref, Value("v1")), "v1");  // sets the namespace's generation
  auto generation = RunSync(memory_.Get({"trellis:work:o1:g"}, kForever));
  ASSERT_TRUE(generation && (*generation)[0]);
  const std::int64_t far = 4'000'000'000'000;
  ports::CacheWrite old;
  old.key = "trellis:work:o1:e:p:old";
  old.value = *(*generation)[0] + " " + std::to_string(far) + " 5\nstale";
  old.ttl = std::chrono::seconds(60);
  std::vector<ports::CacheWrite> writes;
  writes.push_back(std::move(old));
  ASSERT_TRUE(RunSync(memory_.Set(std::move(writes), kForever)));
  int calls = 0;
  EXPECT_EQ(Get(cache, ref, Value("v2", &calls)), "v2");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Get(cache, ref, Value("v3", &calls)), "v2") << "refilled in the current layout";
  EXPECT_EQ(calls, 1);
}

TEST_F(CacheAsideTest, OneRoundTripReadsEveryEntryOfSeveralNamespaces) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef a("members:o1", "u1");
  const CacheRef b("work:o1", "t:page");
  const CacheRef c("work:o2", "p:9");
  ASSERT_TRUE(Get(cache, a, Value("admin")));
  ASSERT_TRUE(Get(cache, b, Value("[page]")));
  const auto before = memory_.Stats().round_trips;
  auto slots = Read(cache, {a, b, c});
  EXPECT_EQ(memory_.Stats().round_trips, before + 1);
  ASSERT_EQ(slots.size(), 3U);
  EXPECT_EQ(slots[0].value, "admin");
  EXPECT_EQ(slots[1].value, "[page]");
  EXPECT_FALSE(slots[2].value);
}

TEST_F(CacheAsideTest, InvalidatingANamespaceDropsAllItsEntriesAndNoOther) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef a1("work:o1", "a");
  const CacheRef a2("work:o1", "b");
  const CacheRef other("work:o2", "a");
  for (const auto& ref : {a1, a2, other}) ASSERT_TRUE(Get(cache, ref, Value("old")));
  Invalidate(cache, "work:o1");
  auto slots = Read(cache, {a1, a2, other});
  EXPECT_FALSE(slots[0].value);
  EXPECT_FALSE(slots[1].value);
  EXPECT_EQ(slots[2].value, "old");
  EXPECT_EQ(Get(cache, a1, Value("new")), "new");
  EXPECT_EQ(Get(cache, a1, Value("newer")), "new");
}

TEST_F(CacheAsideTest, AValueReadBeforeAnInvalidationIsNeverServed) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("work:o1", "a");
  ASSERT_TRUE(Get(cache, ref, Value("v0")));  // the namespace has a generation
  Invalidate(cache, "work:o1");
  auto slots = Read(cache, {ref});  // a reader misses and reads the store (the old value)...
  ASSERT_FALSE(slots[0].value);
  Invalidate(cache, "work:o1");  // ...a writer commits and invalidates meanwhile...
  auto filled =
      RunSync(cache.Load(ref, slots[0], kForever, Value("old")));  // ...and the reader fills late
  ASSERT_EQ(filled, "old") << "the reader itself gets what it read";
  EXPECT_EQ(Get(cache, ref, Value("new")), "new") << "but no one is served the old value";
}

TEST_F(CacheAsideTest, AFirstMissSetsTheGenerationBeforeLoadingAndFills) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("members:o1", "u1");
  auto slots = Read(cache, {ref});
  EXPECT_TRUE(slots[0].generation.empty());
  int calls = 0;
  ASSERT_EQ(RunSync(cache.Load(ref, slots[0], kForever, Value("owner", &calls))), "owner");
  EXPECT_EQ(Get(cache, ref, Value("x", &calls)), "owner");
  EXPECT_EQ(calls, 1);
}

TEST_F(CacheAsideTest, ConcurrentMissesOfOneEntryLoadOnce) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("work:o1", "slow");
  // The namespace was just invalidated (a write): every caller sees the same generation.
  // Callers that saw different generations do not share a load: the newer must not be handed
  // what the older read.
  Invalidate(cache, "work:o1");
  std::atomic<int> calls{0};
  CacheAside::Loader slow = [&calls]() -> asio::awaitable<Result<std::string>> {
    ++calls;
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
    co_return std::string("loaded");
  };
  // Two event loops, as in the server, each with several callers.
  std::vector<std::string> results;
  std::mutex mu;
  auto run = [&] {
    asio::io_context ctx;
    for (int i = 0; i < 4; ++i) {
      asio::co_spawn(ctx, cache.Get(ref, kForever, slow), [&](std::exception_ptr e, auto r) {
        ASSERT_FALSE(e);
        std::lock_guard lock(mu);
        results.push_back(r ? *r : "error: " + r.error().message);
      });
    }
    ctx.run();
  };
  std::thread t1(run);
  std::thread t2(run);
  t1.join();
  t2.join();
  ASSERT_EQ(results.size(), 8U);
  for (const auto& r : results) EXPECT_EQ(r, "loaded");
  EXPECT_EQ(calls.load(), 1) << "one load for eight concurrent misses";
  EXPECT_EQ(cache.GetStats().shared_loads, 7U);
}

TEST_F(CacheAsideTest, HitsNearExpiryAreRefreshedEarlyByChanceAndNeverBefore) {
  auto settings = Settings();
  settings.jitter = 0;
  settings.early_refresh_beta = 1.0;
  CacheAside cache(memory_, clock_, registry_, "t", settings);
  const CacheRef ref("work:o1", "a");
  // A load that took 1 s: XFetch refreshes within a few seconds of expiry, rarely earlier.
  CacheAside::Loader load = [this]() -> asio::awaitable<Result<std::string>> {
    clock_.Advance(std::chrono::seconds(1));
    co_return std::string("v");
  };
  ASSERT_TRUE(Get(cache, ref, load));
  int early = 0;
  for (int i = 0; i < 50; ++i) early += Read(cache, {ref})[0].value ? 0 : 1;
  EXPECT_LE(early, 1) << "a minute from expiry, hits are hits";
  // One load time (1 s) before expiry each hit refreshes with probability e^-1 ≈ 0.37: about
  // 18 of 50; fewer than 5 has a chance of about 1 in 100,000, all 50 none worth naming.
  clock_.Advance(std::chrono::seconds(59));
  early = 0;
  for (int i = 0; i < 50; ++i) early += Read(cache, {ref})[0].value ? 0 : 1;
  EXPECT_GE(early, 5) << "close to expiry, some callers refresh early";
  EXPECT_LT(early, 50) << "but not all";
  EXPECT_GE(cache.GetStats().early_refreshes, 5U);
}

TEST_F(CacheAsideTest, TtlsAreSpreadSoEntriesFilledTogetherExpireApart) {
  auto settings = Settings();
  settings.jitter = 0.1;
  CacheAside cache(memory_, clock_, registry_, "t", settings);
  std::vector<CacheRef> refs;
  for (int i = 0; i < 100; ++i) refs.emplace_back("work:o1", "k" + std::to_string(i));
  for (const auto& ref : refs) ASSERT_TRUE(Get(cache, ref, Value("v")));
  clock_.Advance(std::chrono::seconds(60));  // the nominal TTL
  auto slots = Read(cache, refs);
  int alive = 0;
  for (const auto& s : slots) alive += s.value ? 1 : 0;
  EXPECT_GT(alive, 10);
  EXPECT_LT(alive, 90);
  clock_.Advance(std::chrono::seconds(7));  // past 1.1 × TTL
  slots = Read(cache, refs);
  for (const auto& s : slots) EXPECT_FALSE(s.value);
}

TEST_F(CacheAsideTest, ADownCacheFallsThroughToTheStoreAndCountsErrors) {
  DownCache down;
  CacheAside cache(down, clock_, registry_, "down", Settings());
  const CacheRef ref("work:o1", "a");
  int calls = 0;
  EXPECT_EQ(Get(cache, ref, Value("v", &calls)), "v");
  EXPECT_EQ(Get(cache, ref, Value("v", &calls)), "v");
  EXPECT_EQ(calls, 2);
  EXPECT_GE(cache.GetStats().errors, 2U);
  EXPECT_FALSE(RunSync(cache.Invalidate({"work:o1"}, kForever)));
}

TEST_F(CacheAsideTest, LoadErrorsAreReturnedAndNotCached) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  const CacheRef ref("work:o1", "missing");
  CacheAside::Loader missing = []() -> asio::awaitable<Result<std::string>> {
    co_return core::Fail(core::ErrorCode::kNotFound, "no such thing");
  };
  auto r = Get(cache, ref, missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(Get(cache, ref, Value("now it exists")), "now it exists");
}

// Counts the keys each Get asks for (the near cache must ask only for generations).
class CountingCache final : public ports::Cache {
 public:
  explicit CountingCache(ports::Cache& inner) : inner_(inner) {}
  std::size_t last_get_keys = 0;
  ports::CacheAwaitable<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys, core::Clock::MonoTime deadline) override {
    last_get_keys = keys.size();
    co_return co_await inner_.Get(std::move(keys), deadline);
  }
  ports::CacheAwaitable<void> Set(std::vector<ports::CacheWrite> entries,
                                  core::Clock::MonoTime deadline) override {
    co_return co_await inner_.Set(std::move(entries), deadline);
  }
  ports::CacheAwaitable<void> Delete(std::vector<std::string> keys,
                                     core::Clock::MonoTime deadline) override {
    co_return co_await inner_.Delete(std::move(keys), deadline);
  }
  ports::CacheAdapterStats Stats() const override { return inner_.Stats(); }

 private:
  ports::Cache& inner_;
};

TEST_F(CacheAsideTest, TheNearCacheServesEntriesWhoseGenerationTheRemoteConfirms) {
  CountingCache remote(memory_);
  auto settings = Settings();
  settings.near_entries = 100;
  CacheAside cache(remote, clock_, registry_, "near", settings);
  const CacheRef page("work:o1", "t:page");
  const CacheRef role("members:o1", "u1");
  ASSERT_EQ(Get(cache, page, Value("page-v1")), "page-v1");
  ASSERT_EQ(Get(cache, role, Value("admin")), "admin");
  auto slots = Read(cache, {role, page});
  EXPECT_EQ(remote.last_get_keys, 2U) << "only the two generations: the entries are near";
  EXPECT_EQ(slots[0].value, "admin");
  EXPECT_EQ(slots[1].value, "page-v1");
  EXPECT_GE(cache.GetStats().near_hits, 2U);

  // Another process invalidates (the remote generation moves): the near copy is not served.
  Invalidate(cache, "work:o1");
  slots = Read(cache, {role, page});
  EXPECT_EQ(slots[0].value, "admin");
  EXPECT_FALSE(slots[1].value) << "a near copy of an old generation is never served";
  EXPECT_EQ(RunSync(cache.Load(page, slots[1], kForever, Value("page-v2"))), "page-v2");
  EXPECT_EQ(Read(cache, {page})[0].value, "page-v2");

  // Expired remotely: not served from near either.
  clock_.Advance(std::chrono::seconds(67));
  EXPECT_FALSE(Read(cache, {page})[0].value);
}

TEST_F(CacheAsideTest, TheInvalidatorMapsEventTypesToTheirOrgsNamespaces) {
  CacheAside cache(memory_, clock_, registry_, "t", Settings());
  CacheInvalidator invalidator(cache, clock_);
  invalidator.On("work.", "work:");
  invalidator.On("identity.member.", "members:");
  EXPECT_EQ(invalidator.NamespacesOf("work.task.updated", "o1"),
            std::vector<std::string>{"work:o1"});
  EXPECT_EQ(invalidator.NamespacesOf("identity.member.removed", "o1"),
            std::vector<std::string>{"members:o1"});
  EXPECT_TRUE(invalidator.NamespacesOf("identity.org.updated", "o1").empty());
  EXPECT_TRUE(invalidator.NamespacesOf("work.task.updated", "").empty());

  const CacheRef ref("work:o1", "a");
  ASSERT_TRUE(Get(cache, ref, Value("old")));
  events::DomainEvent event;
  event.type = "work.task.created";
  event.org_id = "o1";
  ASSERT_TRUE(RunSync(invalidator.Handle(event)));
  EXPECT_EQ(Get(cache, ref, Value("new")), "new");
}

}  // namespace
}  // namespace trellis::platform::cache
