// The contract every SqlStore adapter passes: value round trips, commit/rollback, error codes,
// read-only transactions, concurrency and deadlines. An adapter's test instantiates it with a
// factory that yields a fresh, empty database per test (and cleans up in its destructor).
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, SqlStoreContract,
//                            ::testing::Values(SqlStoreAdapter{"sqlite", make, "BLOB"}),
//                            AdapterName);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "platform/ports/run_sync.hpp"
#include "platform/ports/sql_store.hpp"

namespace trellis::tests::contract {

// One fresh database; owns whatever the adapter needs (a temp dir, a server's schema).
class SqlStoreHarness {
 public:
  virtual ~SqlStoreHarness() = default;
  virtual platform::ports::SqlStore& Store() = 0;
};

struct SqlStoreAdapter {
  std::string name;
  std::function<std::unique_ptr<SqlStoreHarness>()> make;
  // Column type for Blob values: BLOB in SQLite, BYTEA in PostgreSQL.
  std::string blob_type = "BLOB";
};

std::string AdapterName(const ::testing::TestParamInfo<SqlStoreAdapter>& info);

using ::trellis::platform::ports::RunSync;

class SqlStoreContract : public ::testing::TestWithParam<SqlStoreAdapter> {
 protected:
  void SetUp() override;
  void TearDown() override { harness_.reset(); }
  platform::ports::SqlStore& Store() { return harness_->Store(); }
  // Runs one transaction to completion.
  platform::core::Result<void> Transact(platform::ports::TransactionOptions options,
                                        platform::ports::TransactionBody body) {
    return RunSync(Store().Transact(std::move(options), std::move(body)));
  }
  // Runs one statement in its own transaction and returns its result.
  platform::core::Result<platform::ports::SqlResult> Run(std::string sql,
                                                         platform::ports::SqlParams params = {},
                                                         bool read_only = false);
  std::int64_t Count(const std::string& table);

 private:
  std::unique_ptr<SqlStoreHarness> harness_;
};

}  // namespace trellis::tests::contract
