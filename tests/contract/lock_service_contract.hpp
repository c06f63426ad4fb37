// The contract every LockService adapter passes: a lease excludes other owners until it runs
// out, fencing tokens strictly increase per name over all acquisitions, Renew and Release only
// act for the holder (same owner and token) while the lease lasts. An adapter's test
// instantiates it with a factory that yields a fresh, empty lock service per test and a way to
// let time pass (advance a ManualClock in process, sleep for a real server).
//
//   INSTANTIATE_TEST_SUITE_P(Memory, LockServiceContract,
//                            ::testing::Values(LockServiceAdapter{"memory", make}),
//                            LockServiceAdapterName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/ports/lock_service.hpp"

namespace trellis::tests::contract {

// One fresh lock service (no names held, none held before). Calls come through RunSync from the
// test's thread and from other threads at once, each on its own io_context, as they would from
// several event-loop threads.
class LockServiceHarness {
 public:
  virtual ~LockServiceHarness() = default;
  virtual platform::ports::LockService& Locks() = 0;
  // The clock the tests take deadlines from (the adapter's in process, the system's otherwise).
  virtual const platform::core::Clock& Clock() = 0;
  // Lets `d` pass for the adapter: advances its ManualClock, or sleeps against a real server.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
};

struct LockServiceAdapter {
  std::string name;
  std::function<std::unique_ptr<LockServiceHarness>()> make;
};

std::string LockServiceAdapterName(const ::testing::TestParamInfo<LockServiceAdapter>& info);

class LockServiceContract : public ::testing::TestWithParam<LockServiceAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  LockServiceHarness& Harness() { return *harness_; }
  platform::ports::LockService& Locks() { return harness_->Locks(); }
  // A deadline comfortably in the future.
  platform::core::Clock::MonoTime Deadline();
  // One call run to completion with Deadline().
  platform::core::Result<std::optional<platform::ports::Lease>> Acquire(
      std::string name, std::string owner, std::chrono::milliseconds ttl);
  platform::core::Result<bool> Renew(platform::ports::Lease lease, std::chrono::milliseconds ttl);
  platform::core::Result<void> Release(platform::ports::Lease lease);

 private:
  std::unique_ptr<LockServiceHarness> harness_;
};

}  // namespace trellis::tests::contract
