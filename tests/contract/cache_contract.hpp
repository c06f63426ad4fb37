// The contract every Cache adapter passes: round trips of binary values, batched reads in
// order, per-entry TTLs, only-if-absent writes, deletes, deadlines and the round-trip count.
// An adapter's test instantiates it with a factory that yields a fresh, empty cache per test
// and a way to let time pass (advance a ManualClock in process, sleep for a real server).
//
//   INSTANTIATE_TEST_SUITE_P(Memory, CacheContract,
//                            ::testing::Values(CacheAdapter{"memory", make}), CacheAdapterName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/ports/cache.hpp"

namespace trellis::tests::contract {

// One fresh, empty cache with room for at least a few megabytes. Calls come through RunSync
// from the test's thread and from other threads at once, each on its own io_context, as they
// would from several event-loop threads.
class CacheHarness {
 public:
  virtual ~CacheHarness() = default;
  virtual platform::ports::Cache& Cache() = 0;
  // The clock the tests take deadlines from (the adapter's in process, the system's otherwise).
  virtual const platform::core::Clock& Clock() = 0;
  // Lets `d` pass for the adapter: advances its ManualClock, or sleeps against a real server.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
};

struct CacheAdapter {
  std::string name;
  std::function<std::unique_ptr<CacheHarness>()> make;
};

std::string CacheAdapterName(const ::testing::TestParamInfo<CacheAdapter>& info);

class CacheContract : public ::testing::TestWithParam<CacheAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  CacheHarness& Harness() { return *harness_; }
  platform::ports::Cache& Cache() { return harness_->Cache(); }
  // A deadline comfortably in the future.
  platform::core::Clock::MonoTime Deadline();
  // One call run to completion with Deadline().
  platform::core::Result<std::vector<std::optional<std::string>>> Get(
      std::vector<std::string> keys);
  platform::core::Result<void> Set(std::vector<platform::ports::CacheWrite> entries);
  platform::core::Result<void> Set(std::string key, std::string value,
                                   std::chrono::milliseconds ttl, bool only_if_absent = false);
  platform::core::Result<void> Delete(std::vector<std::string> keys);
  // The value of one key (nullopt when absent); fails the test on an error.
  std::optional<std::string> Value(std::string key);

 private:
  std::unique_ptr<CacheHarness> harness_;
};

}  // namespace trellis::tests::contract
