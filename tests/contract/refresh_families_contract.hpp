// The contract every RefreshFamilies adapter passes (platform/ports/token_store.hpp): rotation
// hands the grant on and uses the presented token up; a used token presented again revokes its
// family; a wrong client changes nothing; expiry, family and session revocation refuse; a
// session revoked before a family is issued refuses the issue; of concurrent rotations of one
// token exactly one wins. An adapter's test instantiates it with a factory that yields a fresh,
// empty store per test.
//
//   INSTANTIATE_TEST_SUITE_P(Redis, RefreshFamiliesContract,
//                            ::testing::Values(RefreshFamiliesAdapter{"redis", make}),
//                            RefreshFamiliesAdapterName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::tests::contract {

// One fresh, empty store. Calls come through RunSync from the test's threads (two at once in
// the concurrency case).
class RefreshFamiliesHarness {
 public:
  virtual ~RefreshFamiliesHarness() = default;
  virtual platform::ports::RefreshFamilies& Families() = 0;
  // The clock the tests take deadlines and expiry times (Now) from; the adapter's own.
  virtual const platform::core::Clock& Clock() = 0;
  // Lets `d` pass for the adapter: advances its ManualClock, or sleeps against a real server.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
  // Makes the grant's user and session exist where the adapter keeps them (SQL foreign keys).
  virtual void Prepare(const platform::ports::RefreshGrant& grant) { (void)grant; }
};

struct RefreshFamiliesAdapter {
  std::string name;
  std::function<std::unique_ptr<RefreshFamiliesHarness>()> make;
};

std::string RefreshFamiliesAdapterName(
    const ::testing::TestParamInfo<RefreshFamiliesAdapter>& info);

class RefreshFamiliesContract : public ::testing::TestWithParam<RefreshFamiliesAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  RefreshFamiliesHarness& Harness() { return *harness_; }
  platform::ports::RefreshFamilies& Families() { return harness_->Families(); }
  platform::core::Clock::MonoTime Deadline();
  platform::core::Clock::WallTime In(std::chrono::milliseconds d);
  // A grant of `family` in `session`, prepared in the store.
  platform::ports::RefreshGrant Grant(const std::string& family, const std::string& session);
  // One call run to completion; fails the test on an error.
  bool Issue(const std::string& token, const platform::ports::RefreshGrant& grant,
             platform::core::Clock::WallTime expires_at);
  platform::ports::Rotation Rotate(const std::string& token, const std::string& client,
                                   const std::string& next,
                                   platform::core::Clock::WallTime next_expires_at);
  void RevokeFamily(const std::string& family);
  void RevokeSession(const std::string& session);

 private:
  std::unique_ptr<RefreshFamiliesHarness> harness_;
};

}  // namespace trellis::tests::contract
