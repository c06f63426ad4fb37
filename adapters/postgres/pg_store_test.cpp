// PgStore against a real PostgreSQL 15 (tests/support/postgres_cluster): the SqlStore contract,
// then what only PostgreSQL does: pipelining, cancel at the deadline, transaction-local
// settings, the pool's bound, a server restart, credential rotation, search_path, the
// statement cache.
#include "adapters/postgres/pg_store.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/contract/sql_store_contract.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::adapters::postgres {
namespace {

namespace asio = boost::asio;
using platform::core::ErrorCode;
using platform::core::Result;
using platform::ports::Awaitable;
using platform::ports::RunSync;
using platform::ports::SqlParams;
using platform::ports::SqlResult;
using platform::ports::SqlStatement;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;
using platform::ports::Void;
using tests::contract::SqlStoreContract;
using tests::support::PostgresCluster;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One server for the whole binary; a fresh database per test.
PostgresCluster* g_cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    cluster_ = PostgresCluster::Start();
    g_cluster = cluster_.get();
  }
  void TearDown() override {
    g_cluster = nullptr;
    cluster_.reset();
  }

 private:
  std::unique_ptr<PostgresCluster> cluster_;
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

// Outlives every store (the executor Open takes, for the min_idle warm-up).
asio::io_context& HomeContext() {
  static asio::io_context ctx;
  return ctx;
}

Settings SettingsFor(const std::string& db) {
  Settings s;
  s.name = "test";
  s.conninfo =
      g_cluster->ConnectionString(PostgresCluster::kSuperuser, g_cluster->SuperuserPassword(), db);
  return s;
}

std::unique_ptr<PgStore> OpenStore(Settings settings, platform::observe::Registry& registry) {
  auto store = PgStore::Open(std::move(settings), HomeContext().get_executor(),
                             platform::core::SystemClock::Instance(), registry);
  EXPECT_TRUE(store.has_value()) << store.error().internal;
  return store ? std::move(*store) : nullptr;
}

class PgHarness : public tests::contract::SqlStoreHarness {
 public:
  PgHarness() : store_(OpenStore(SettingsFor(g_cluster->CreateDatabase()), registry_)) {}
  platform::ports::SqlStore& Store() override { return *store_; }

 private:
  platform::observe::Registry registry_;
  std::unique_ptr<PgStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, SqlStoreContract,
                         ::testing::Values(tests::contract::SqlStoreAdapter{
                             "postgres", [] { return std::make_unique<PgHarness>(); }, "BYTEA"}),
                         tests::contract::AdapterName);

}  // namespace
}  // namespace trellis::adapters::postgres
