// SqlRefreshFamilies, the embedded adapter of the token store's refresh-token half, on both
// engines (a migrated SQLite file; PostgreSQL as trellis_identity): the refresh-families
// contract suite.
#include "services/identity/store/sql_refresh_families.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "platform/ports/run_sync.hpp"
#include "services/identity/store/identity_store.hpp"
#include "services/identity/store/oidc_store.hpp"
#include "tests/contract/refresh_families_contract.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::identity::store {
namespace {

namespace core = platform::core;
using platform::ports::RefreshGrant;
using platform::ports::RotateOutcome;
using platform::ports::RunSync;
using platform::ports::TransactionOptions;
using tests::contract::RefreshFamiliesAdapter;
using tests::contract::RefreshFamiliesContract;
using tests::contract::RefreshFamiliesHarness;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;

// Real monotonic time (the store's deadlines) and a wall clock the test moves forward (expiry).
class ShiftedClock final : public core::Clock {
 public:
  [[nodiscard]] WallTime Now() const override {
    return std::chrono::system_clock::now() + std::chrono::milliseconds(shift_ms_.load());
  }
  [[nodiscard]] MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }
  void Elapse(std::chrono::milliseconds d) { shift_ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> shift_ms_{0};
};

class SqlRefreshFamiliesHarness final : public RefreshFamiliesHarness {
 public:
  explicit SqlRefreshFamiliesHarness(SqlEngine engine)
      : db_(EngineStore::Open(engine, SqlContext::kIdentity)), families_(db_->Store(), clock_) {}

  platform::ports::RefreshFamilies& Families() override { return families_; }
  const core::Clock& Clock() override { return clock_; }
  void Elapse(std::chrono::milliseconds d) override { clock_.Elapse(d); }
  void Prepare(const RefreshGrant& grant) override {
    const bool new_user = users_.insert(grant.user_id).second;
    const bool new_session = sessions_.insert(grant.session_id).second;
    auto done = RunSync(
        db_->Store().Transact(TransactionOptions(), [&](SqlTransaction& tx) -> Awaitable<void> {
          if (new_user) {
            domain::User u;
            u.id = grant.user_id;
            u.email = grant.user_id + "@example.com";
            u.name = grant.user_id;
            auto inserted = co_await InsertUser(tx, u);
            if (!inserted) co_return std::unexpected(inserted.error());
          }
          if (!new_session) co_return core::Result<void>();
          SessionRow s;
          s.id = grant.session_id;
          s.token_sha256 = "cookie-" + grant.session_id;
          s.user_id = grant.user_id;
          s.expires_at_ms = 4'000'000'000'000;
          co_return co_await InsertSession(tx, s);
        }));
    ASSERT_TRUE(done.has_value()) << done.error().internal;
  }

 private:
  std::unique_ptr<EngineStore> db_;
  ShiftedClock clock_;
  SqlRefreshFamilies families_;
  std::set<std::string> users_;
  std::set<std::string> sessions_;
};

INSTANTIATE_TEST_SUITE_P(
    Sql, RefreshFamiliesContract,
    ::testing::Values(
        RefreshFamiliesAdapter{
            "sqlite",
            [] { return std::make_unique<SqlRefreshFamiliesHarness>(SqlEngine::kSqlite); }},
        RefreshFamiliesAdapter{
            "postgres",
            [] { return std::make_unique<SqlRefreshFamiliesHarness>(SqlEngine::kPostgres); }}),
    tests::contract::RefreshFamiliesAdapterName);

}  // namespace
}  // namespace trellis::identity::store
