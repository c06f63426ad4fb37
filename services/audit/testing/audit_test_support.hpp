// Test helpers for the audit context: a migrated SQLite audit database in a temp dir, a fake
// IdentityClient with a table of memberships, a coroutine runner and an event factory.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "adapters/sqlite/sqlite_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/events/event.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "platform/store/migrations.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"
#include "services/audit/store/audit_store.hpp"
#include "tests/support/fake_identity.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::audit::testing {

using ::trellis::platform::ports::RunSync;

using ::trellis::tests::support::FakeIdentity;

// A migrated audit database.
class AuditDb {
 public:
  AuditDb() {
    adapters::sqlite::Settings s;
    s.path = dir_.Path() / "audit.db";
    s.name = "audit";
    auto store = adapters::sqlite::SqliteStore::Open(s, clock_, registry_);
    if (!store) throw std::runtime_error(store.error().internal);
    store_ = std::move(*store);
    auto migrations = platform::store::ParseMigrations(store::Migrations());
    if (!migrations) throw std::runtime_error(migrations.error().internal);
    auto done = RunSync(platform::store::Migrate(*store_, *migrations, clock_, {}));
    if (!done) throw std::runtime_error(done.error().internal);
  }
  platform::ports::SqlStore& Store() { return *store_; }

 private:
  tests::support::TempDir dir_;
  platform::core::ManualClock clock_;
  platform::observe::Registry registry_;
  std::unique_ptr<adapters::sqlite::SqliteStore> store_;
};

inline platform::events::DomainEvent MakeEvent(std::string id, std::string org, std::int64_t offset,
                                               std::string type, std::string actor,
                                               std::int64_t at_ms) {
  platform::events::DomainEvent e;
  e.id = std::move(id);
  e.org_id = std::move(org);
  e.offset = offset;
  e.type = std::move(type);
  e.actor_id = std::move(actor);
  e.subject_id = "subject-" + e.id;
  e.payload = R"({"n":)" + std::to_string(offset) + "}";
  e.occurred_at_ms = at_ms;
  return e;
}

}  // namespace trellis::audit::testing
