// What the work context's tests share: running a coroutine to completion, a migrated SQLite
// work database in a TempDir, and a fake IdentityClient with a configurable membership table.
//
//   WorkDb db;                                   // TempDir + SqliteStore + V1__work.sql
//   auto project = RunSync(db.Read([&](SqlTransaction& tx) { ... }));
//   FakeIdentity identity; identity.Set("org-a", "user-1", Role::kMember);
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"
#include "tests/support/fake_identity.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::work::testing {

namespace core = platform::core;

using ::trellis::platform::ports::RunSync;

// A fresh, migrated work database.
class WorkDb {
 public:
  WorkDb() {
    auto opened = adapters::sqlite::SqliteStore::Open(
        {.path = dir_.Path() / "work.db", .name = "work"}, clock_, registry_);
    if (!opened) throw std::runtime_error(opened.error().internal);
    store_ = std::move(*opened);
    auto migrations = platform::store::LoadMigrations(TRELLIS_WORK_MIGRATIONS);
    if (!migrations) throw std::runtime_error(migrations.error().message);
    auto applied = RunSync(platform::store::Migrate(*store_, *migrations, clock_, {}));
    if (!applied) throw std::runtime_error(applied.error().internal);
  }
  platform::ports::SqlStore& Store() { return *store_; }
  core::ManualClock& Clock() { return clock_; }
  const tests::support::TempDir& Dir() const { return dir_; }
  platform::observe::Registry& Registry() { return registry_; }

 private:
  tests::support::TempDir dir_;
  core::ManualClock clock_;
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
};

using ::trellis::tests::support::FakeIdentity;

}  // namespace trellis::work::testing
