// The contract every TokenStore adapter passes: revocations listed in the order recorded from
// "" and from a cursor, idempotent revokes (a later expiry extends), entries forgotten once
// they expire, and `reset` when a cursor is too old (entries it would have returned were
// forgotten) or not from this store's history. An adapter's test instantiates it with a
// factory that yields a fresh, empty store per test and a way to let time pass.
//
//   INSTANTIATE_TEST_SUITE_P(Memory, TokenStoreContract,
//                            ::testing::Values(TokenStoreAdapter{"memory", make}),
//                            TokenStoreAdapterName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/ports/token_store.hpp"

namespace trellis::tests::contract {

// One fresh, empty store (no revocation recorded before). Calls come through RunSync from the
// test's thread.
class TokenStoreHarness {
 public:
  virtual ~TokenStoreHarness() = default;
  virtual platform::ports::TokenStore& Tokens() = 0;
  // The clock the tests take deadlines and expiry times (Now) from.
  virtual const platform::core::Clock& Clock() = 0;
  // Lets `d` pass for the adapter: advances its ManualClock, or sleeps against a real server.
  virtual void Elapse(std::chrono::milliseconds d) = 0;
};

struct TokenStoreAdapter {
  std::string name;
  std::function<std::unique_ptr<TokenStoreHarness>()> make;
};

std::string TokenStoreAdapterName(const ::testing::TestParamInfo<TokenStoreAdapter>& info);

class TokenStoreContract : public ::testing::TestWithParam<TokenStoreAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  TokenStoreHarness& Harness() { return *harness_; }
  platform::ports::TokenStore& Tokens() { return harness_->Tokens(); }
  // A deadline comfortably in the future.
  platform::core::Clock::MonoTime Deadline();
  // Now plus `d`, on a whole millisecond (adapters keep expiry times at least that precisely).
  platform::core::Clock::WallTime In(std::chrono::milliseconds d);
  // One call run to completion with Deadline(); fails the test on an error.
  void Revoke(std::string session_id, platform::core::Clock::WallTime expires_at);
  platform::ports::RevocationPage Since(std::string cursor);

 private:
  std::unique_ptr<TokenStoreHarness> harness_;
};

}  // namespace trellis::tests::contract
