#include "tests/contract/cache_contract.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/ports/run_sync.hpp"

namespace trellis::tests::contract {

using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::CacheWrite;
using platform::ports::RunSync;
using std::chrono::milliseconds;

// Test binaries that link the suite without instantiating it (other tests of an adapter).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CacheContract);

std::string CacheAdapterName(const ::testing::TestParamInfo<CacheAdapter>& info) {
  return info.param.name;
}

void CacheContract::SetUp() {
  harness_ = GetParam().make();
  ASSERT_NE(harness_, nullptr);
}

platform::core::Clock::MonoTime CacheContract::Deadline() {
  return harness_->Clock().Monotonic() + std::chrono::seconds(5);
}

Result<std::vector<std::optional<std::string>>> CacheContract::Get(std::vector<std::string> keys) {
  return RunSync(Cache().Get(std::move(keys), Deadline()));
}

Result<void> CacheContract::Set(std::vector<CacheWrite> entries) {
  return RunSync(Cache().Set(std::move(entries), Deadline()));
}

Result<void> CacheContract::Set(std::string key, std::string value, milliseconds ttl,
                                bool only_if_absent) {
  CacheWrite write;
  write.key = std::move(key);
  write.value = std::move(value);
  write.ttl = ttl;
  write.only_if_absent = only_if_absent;
  std::vector<CacheWrite> writes;
  writes.push_back(std::move(write));
  return Set(std::move(writes));
}

Result<void> CacheContract::Delete(std::vector<std::string> keys) {
  return RunSync(Cache().Delete(std::move(keys), Deadline()));
}

std::optional<std::string> CacheContract::Value(std::string key) {
  std::vector<std::string> keys;
  keys.push_back(std::move(key));
  auto got = Get(std::move(keys));
  EXPECT_TRUE(got.has_value()) << got.error().internal;
  if (!got) return std::nullopt;
  EXPECT_EQ(got->size(), 1u);
  if (got->size() != 1) return std::nullopt;
  return std::move(got->front());
}

namespace {

// Long enough to outlast any test; short enough that a real server forgets it soon.
constexpr milliseconds kLong{10'000};
// Short TTLs that a real server's suite can wait out quickly; the waits leave a margin.
constexpr milliseconds kShort{150};
constexpr milliseconds kPastShort{300};

std::vector<std::string> Keys(std::initializer_list<const char*> names) {
  std::vector<std::string> out;
  for (const char* name : names) out.emplace_back(name);
  return out;
}

}  // namespace

TEST_P(CacheContract, SetGetDeleteRoundTrip) {
  ASSERT_TRUE(Set("org1:p:7", "{\"name\":\"Apollo\"}", kLong).has_value());
  EXPECT_EQ(Value("org1:p:7"), "{\"name\":\"Apollo\"}");
  // Overwrite.
  ASSERT_TRUE(Set("org1:p:7", "{\"name\":\"Gemini\"}", kLong).has_value());
  EXPECT_EQ(Value("org1:p:7"), "{\"name\":\"Gemini\"}");
  ASSERT_TRUE(Delete(Keys({"org1:p:7"})).has_value());
  EXPECT_EQ(Value("org1:p:7"), std::nullopt);
  // The empty value is a value, not absence.
  ASSERT_TRUE(Set("org1:empty", "", kLong).has_value());
  EXPECT_EQ(Value("org1:empty"), std::string());
}

TEST_P(CacheContract, ValuesAreBinarySafe) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  all_bytes += std::string("\0\0tail\0", 7);
  ASSERT_TRUE(Set("bin", all_bytes, kLong).has_value());
  auto back = Value("bin");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->size(), all_bytes.size());
  EXPECT_EQ(*back, all_bytes);

  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
  ASSERT_TRUE(Set("big", big, kLong).has_value());
  auto big_back = Value("big");
  ASSERT_TRUE(big_back.has_value());
  EXPECT_EQ(big_back->size(), big.size());
  EXPECT_TRUE(*big_back == big);

  // Keys with separators, spaces and non-ASCII bytes are keys like any other.
  ASSERT_TRUE(Set("w:org 1:t\xC3\xA9:\x01", "x", kLong).has_value());
  EXPECT_EQ(Value("w:org 1:t\xC3\xA9:\x01"), "x");
  EXPECT_EQ(Value("w:org 1:t\xC3\xA9:"), std::nullopt);
}

TEST_P(CacheContract, GetOfManyKeysAnswersInOrder) {
  std::vector<CacheWrite> writes;
  for (int i = 0; i < 20; i += 2) {
    CacheWrite w;
    w.key = "k" + std::to_string(i);
    w.value = "v" + std::to_string(i);
    w.ttl = kLong;
    writes.push_back(std::move(w));
  }
  ASSERT_TRUE(Set(std::move(writes)).has_value());

  std::vector<std::string> keys;
  for (int i = 19; i >= 0; --i) keys.push_back("k" + std::to_string(i));
  keys.emplace_back("k4");  // asked twice
  auto got = Get(keys);
  ASSERT_TRUE(got.has_value()) << got.error().internal;
  ASSERT_EQ(got->size(), keys.size());
  for (int i = 19; i >= 0; --i) {
    const auto& value = (*got)[static_cast<std::size_t>(19 - i)];
    if (i % 2 == 0) {
      EXPECT_EQ(value, "v" + std::to_string(i)) << "k" << i;
    } else {
      EXPECT_EQ(value, std::nullopt) << "k" << i;
    }
  }
  EXPECT_EQ(got->back(), "v4");

  auto none = Get({});
  ASSERT_TRUE(none.has_value()) << none.error().internal;
  EXPECT_TRUE(none->empty());
}

TEST_P(CacheContract, EntriesExpireAfterTheirTtl) {
  ASSERT_TRUE(Set("short", "s", kShort).has_value());
  ASSERT_TRUE(Set("long", "l", kLong).has_value());
  EXPECT_EQ(Value("short"), "s");
  Harness().Elapse(kPastShort);
  auto got = Get(Keys({"short", "long"}));
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0], std::nullopt);
  EXPECT_EQ((*got)[1], "l");
}

TEST_P(CacheContract, OverwriteReplacesTheTtl) {
  ASSERT_TRUE(Set("k", "old", kLong).has_value());
  ASSERT_TRUE(Set("k", "new", kShort).has_value());
  EXPECT_EQ(Value("k"), "new");
  Harness().Elapse(kPastShort);
  EXPECT_EQ(Value("k"), std::nullopt);
}

TEST_P(CacheContract, OnlyIfAbsentLeavesAnExistingValueAlone) {
  ASSERT_TRUE(Set("k", "first", kShort).has_value());
  ASSERT_TRUE(Set("k", "second", kLong, /*only_if_absent=*/true).has_value());
  EXPECT_EQ(Value("k"), "first");
  ASSERT_TRUE(Set("fresh", "mine", kLong, /*only_if_absent=*/true).has_value());
  EXPECT_EQ(Value("fresh"), "mine");

  // Once the value has expired the key is absent again.
  Harness().Elapse(kPastShort);
  ASSERT_TRUE(Set("k", "third", kLong, /*only_if_absent=*/true).has_value());
  EXPECT_EQ(Value("k"), "third");
}

TEST_P(CacheContract, SetIsPerEntry) {
  ASSERT_TRUE(Set("taken", "old", kLong).has_value());
  std::vector<CacheWrite> writes;
  CacheWrite a;
  a.key = "taken";
  a.value = "new";
  a.ttl = kLong;
  a.only_if_absent = true;
  writes.push_back(std::move(a));
  CacheWrite b;
  b.key = "free";
  b.value = "b";
  b.ttl = kLong;
  b.only_if_absent = true;
  writes.push_back(std::move(b));
  ASSERT_TRUE(Set(std::move(writes)).has_value());
  EXPECT_EQ(Value("taken"), "old");
  EXPECT_EQ(Value("free"), "b");
}

TEST_P(CacheContract, DeleteOfAbsentKeysIsNotAnError) {
  ASSERT_TRUE(Delete(Keys({"never-set", "nor-this"})).has_value());
  ASSERT_TRUE(Set("a", "1", kLong).has_value());
  ASSERT_TRUE(Set("b", "2", kLong).has_value());
  ASSERT_TRUE(Delete(Keys({"a", "missing"})).has_value());
  auto got = Get(Keys({"a", "b"}));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ((*got)[0], std::nullopt);
  EXPECT_EQ((*got)[1], "2");
  EXPECT_TRUE(Delete({}).has_value());
}

TEST_P(CacheContract, NonPositiveTtlIsInvalidAndWritesNothing) {
  std::vector<CacheWrite> writes;
  CacheWrite ok;
  ok.key = "ok";
  ok.value = "1";
  ok.ttl = kLong;
  writes.push_back(std::move(ok));
  CacheWrite bad;
  bad.key = "bad";
  bad.value = "2";
  bad.ttl = milliseconds(0);
  writes.push_back(std::move(bad));
  auto r = Set(std::move(writes));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Value("ok"), std::nullopt);
  EXPECT_EQ(Value("bad"), std::nullopt);
}

TEST_P(CacheContract, PassedDeadlineFailsAndWritesNothing) {
  ASSERT_TRUE(Set("kept", "v", kLong).has_value());
  const auto past = Harness().Clock().Monotonic() - milliseconds(1);

  std::vector<CacheWrite> writes;
  CacheWrite w;
  w.key = "late";
  w.value = "v";
  w.ttl = kLong;
  writes.push_back(std::move(w));
  auto set = RunSync(Cache().Set(std::move(writes), past));
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().code, ErrorCode::kDeadlineExceeded);

  auto del = RunSync(Cache().Delete(Keys({"kept"}), past));
  ASSERT_FALSE(del.has_value());
  EXPECT_EQ(del.error().code, ErrorCode::kDeadlineExceeded);

  auto get = RunSync(Cache().Get(Keys({"kept"}), past));
  ASSERT_FALSE(get.has_value());
  EXPECT_EQ(get.error().code, ErrorCode::kDeadlineExceeded);

  EXPECT_EQ(Value("late"), std::nullopt);
  EXPECT_EQ(Value("kept"), "v");
}

TEST_P(CacheContract, EachCallIsOneRoundTrip) {
  const auto before = Cache().Stats().round_trips;
  std::vector<CacheWrite> writes;
  for (int i = 0; i < 5; ++i) {
    CacheWrite w;
    w.key = "rt" + std::to_string(i);
    w.value = "v";
    w.ttl = kLong;
    writes.push_back(std::move(w));
  }
  ASSERT_TRUE(Set(std::move(writes)).has_value());
  ASSERT_TRUE(Get(Keys({"rt0", "rt1", "rt2", "rt3", "rt4", "absent"})).has_value());
  ASSERT_TRUE(Delete(Keys({"rt0", "rt1"})).has_value());
  ASSERT_TRUE(Get(Keys({"rt4"})).has_value());
  EXPECT_EQ(Cache().Stats().round_trips - before, 4u);
}

TEST_P(CacheContract, ConcurrentCallersSeeTheirOwnWrites) {
  constexpr int kThreads = 2;
  constexpr int kRounds = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const std::string key = "t" + std::to_string(t) + ":" + std::to_string(i);
        CacheWrite w;
        w.key = key;
        w.value = key + "=value";
        w.ttl = kLong;
        std::vector<CacheWrite> writes;
        writes.push_back(std::move(w));
        auto set = RunSync(Cache().Set(std::move(writes), Deadline()));
        std::vector<std::string> keys;
        keys.push_back(key);
        keys.emplace_back("shared");
        auto got = RunSync(Cache().Get(std::move(keys), Deadline()));
        if (!set || !got || got->size() != 2 || (*got)[0] != key + "=value") ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace trellis::tests::contract
