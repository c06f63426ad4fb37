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
#include "tests/support/temp_dir.hpp"

namespace trellis::audit::testing {

using ::trellis::platform::ports::RunSync;

// Memberships by (org, user); everything else is NOT_FOUND.
class FakeIdentity final : public identity::v1::IdentityClient {
 public:
  void Add(std::string org, std::string user, platform::core::Role role) {
    roles_[{std::move(org), std::move(user)}] = role;
  }
  // IdentityClient
  identity::v1::Call<identity::v1::Membership> GetMembership(
      identity::v1::GetMembershipRequest request, platform::core::CallContext) override {
    auto it = roles_.find({request.org_id(), request.user_id()});
    if (it == roles_.end()) {
      co_return platform::core::Fail(platform::core::ErrorCode::kNotFound, "not a member");
    }
    identity::v1::Membership m;
    m.set_org_id(request.org_id());
    m.set_user_id(request.user_id());
    m.set_role(identity::v1::FromCoreRole(it->second));
    co_return m;
  }
  identity::v1::Call<identity::v1::ApiKeyPrincipal> AuthenticateApiKey(
      identity::v1::AuthenticateApiKeyRequest, platform::core::CallContext) override {
    co_return platform::core::Fail(platform::core::ErrorCode::kUnauthenticated, "no");
  }
  identity::v1::Call<identity::v1::User> ResolveSubject(identity::v1::ResolveSubjectRequest,
                                                        platform::core::CallContext) override {
    co_return platform::core::Fail(platform::core::ErrorCode::kUnimplemented, "no");
  }

 private:
  std::map<std::pair<std::string, std::string>, platform::core::Role> roles_;
};

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
