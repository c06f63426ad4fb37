// A SQL store for tests that runs `during_read` after a read-only transaction has read and
// before its result reaches the caller: a write committed while a read is in flight,
// deterministically (the stale-fill tests of the caches). Counts read-only transactions.
//
//   InterleavingStore store(real_store);
//   store.during_read = [&]() -> Awaitable<void> { co_return co_await Write(); };
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "platform/ports/sql_store.hpp"

namespace trellis::tests::support {

class InterleavingStore final : public platform::ports::SqlStore {
 public:
  explicit InterleavingStore(platform::ports::SqlStore& inner) : inner_(inner) {}
  std::function<platform::ports::Awaitable<void>()> during_read;
  int reads = 0;

  // SqlStore
  boost::asio::awaitable<platform::core::Result<void>> Transact(
      platform::ports::TransactionOptions options, platform::ports::TransactionBody body) override {
    const bool read_only = options.read_only;
    if (read_only) ++reads;
    auto r = co_await inner_.Transact(std::move(options), std::move(body));
    if (read_only && during_read) {
      auto hook = std::move(during_read);
      during_read = nullptr;
      auto w = co_await hook();
      EXPECT_TRUE(w) << w.error().message;
    }
    co_return r;
  }

 private:
  platform::ports::SqlStore& inner_;
};

}  // namespace trellis::tests::support
