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

// Memberships by (org, user); anything else is kNotFound, as identity answers.
class FakeIdentity final : public identity::v1::IdentityClient {
 public:
  void Set(const std::string& org, const std::string& user, core::Role role) {
    members_[{org, user}] = role;
  }
  void Remove(const std::string& org, const std::string& user) { members_.erase({org, user}); }
  int membership_calls = 0;
  core::CallContext last_call;  // what the latest GetMembership was given

  // IdentityClient
  identity::v1::Call<identity::v1::Membership> GetMembership(
      identity::v1::GetMembershipRequest request, core::CallContext call) override {
    ++membership_calls;
    last_call = std::move(call);
    auto it = members_.find({request.org_id(), request.user_id()});
    if (it == members_.end()) co_return core::Fail(core::ErrorCode::kNotFound, "not a member");
    identity::v1::Membership m;
    m.set_org_id(request.org_id());
    m.set_user_id(request.user_id());
    m.set_role(identity::v1::FromCoreRole(it->second));
    co_return m;
  }
  identity::v1::Call<identity::v1::ApiKeyPrincipal> AuthenticateApiKey(
      identity::v1::AuthenticateApiKeyRequest /*request*/, core::CallContext /*call*/) override {
    co_return core::Fail(core::ErrorCode::kUnauthenticated, "not used by the work context");
  }
  identity::v1::Call<identity::v1::User> ResolveSubject(
      identity::v1::ResolveSubjectRequest /*request*/, core::CallContext /*call*/) override {
    co_return core::Fail(core::ErrorCode::kUnimplemented, "not used by the work context");
  }

 private:
  std::map<std::pair<std::string, std::string>, core::Role> members_;
};

}  // namespace trellis::work::testing
