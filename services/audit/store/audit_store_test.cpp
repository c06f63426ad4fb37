// The audit repository on both engines (tests/support/sql_engines.hpp): a migrated SQLite file,
// and PostgreSQL as trellis_audit under row-level security.
#include "services/audit/store/audit_store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "platform/ports/run_sync.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::audit::store {
namespace {

namespace ports = platform::ports;
using platform::ports::RunSync;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;

domain::AuditEvent Entry(std::string org, std::string id, std::int64_t seq, std::string actor,
                         std::string action, std::int64_t at_ms) {
  domain::AuditEvent e;
  e.org_id = std::move(org);
  e.id = std::move(id);
  e.seq = seq;
  e.actor_id = std::move(actor);
  e.action = std::move(action);
  e.subject_id = "s";
  e.payload = "{}";
  e.occurred_at_ms = at_ms;
  return e;
}

class AuditStoreTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  AuditStoreTest() : db_(EngineStore::Open(GetParam(), SqlContext::kAudit)) {}

  bool Insert(const domain::AuditEvent& e) {
    bool inserted = false;
    auto r =
        RunSync(db_->Store().Transact(ports::TransactionOptions().Org(e.org_id),
                                      [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                        auto i = co_await InsertAuditEvent(tx, e);
                                        if (!i) co_return std::unexpected(i.error());
                                        inserted = *i;
                                        co_return platform::core::Result<void>();
                                      }));
    EXPECT_TRUE(r) << r.error().internal;
    return inserted;
  }
  std::vector<std::string> List(const std::string& org, domain::AuditFilter filter,
                                std::optional<std::int64_t> before = std::nullopt,
                                int limit = 100) {
    std::vector<std::string> ids;
    auto r = RunSync(db_->Store().Transact(
        ports::TransactionOptions().ReadOnly().Org(org),
        [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto rows = co_await ListAuditEvents(tx, org, filter, before, limit);
          if (!rows) co_return std::unexpected(rows.error());
          for (const auto& e : *rows) ids.push_back(e.id);
          co_return platform::core::Result<void>();
        }));
    EXPECT_TRUE(r) << r.error().internal;
    return ids;
  }

  std::unique_ptr<EngineStore> db_;
};

TEST_P(AuditStoreTest, InsertIsIdempotentByOrgAndEventId) {
  EXPECT_TRUE(Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000)));
  EXPECT_FALSE(Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000)));
  EXPECT_EQ(List("org-a", {}), (std::vector<std::string>{"e1"}));
}

TEST_P(AuditStoreTest, ListsNewestFirstWithinTheOrgOnly) {
  Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000));
  Insert(Entry("org-b", "e2", 2, "u1", "work.task.created", 2000));
  Insert(Entry("org-a", "e3", 3, "u2", "identity.member.invited", 3000));
  Insert(Entry("org-a", "e4", 4, "u1", "work.task.updated", 4000));
  EXPECT_EQ(List("org-a", {}), (std::vector<std::string>{"e4", "e3", "e1"}));
  EXPECT_EQ(List("org-b", {}), (std::vector<std::string>{"e2"}));
  EXPECT_EQ(List("org-a", {}, 4, 1), (std::vector<std::string>{"e3"}));
}

TEST_P(AuditStoreTest, FiltersByActorActionAndTime) {
  Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000));
  Insert(Entry("org-a", "e2", 2, "u2", "work.task.created", 2000));
  Insert(Entry("org-a", "e3", 3, "u1", "work.task.updated", 3000));
  domain::AuditFilter by_actor;
  by_actor.actor = "u1";
  EXPECT_EQ(List("org-a", by_actor), (std::vector<std::string>{"e3", "e1"}));
  domain::AuditFilter by_action;
  by_action.action = "work.task.created";
  EXPECT_EQ(List("org-a", by_action), (std::vector<std::string>{"e2", "e1"}));
  domain::AuditFilter window;
  window.since_ms = 2000;  // inclusive
  window.until_ms = 3000;  // exclusive
  EXPECT_EQ(List("org-a", window), (std::vector<std::string>{"e2"}));
  domain::AuditFilter both = by_actor;
  both.action = "work.task.updated";
  EXPECT_EQ(List("org-a", both), (std::vector<std::string>{"e3"}));
}

// The database itself keeps the orgs apart: a transaction for org A that asks for org B's row
// by id, without the org filter the store's queries carry, sees nothing, and cannot write a row
// of org B either.
TEST_P(AuditStoreTest, TheDatabaseRefusesCrossOrgAccess) {
  if (!db_->IsPostgres()) {
    GTEST_SKIP() << "SQLite has no row-level security: org scoping is the queries' job there "
                    "(the other cases)";
  }
  Insert(Entry("org-b", "e-b", 1, "u1", "work.task.created", 1000));
  std::size_t seen = 99;
  auto read = RunSync(db_->Store().Transact(
      ports::TransactionOptions().ReadOnly().Org("org-a"),
      [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
        ports::SqlParams p{std::string("e-b")};
        auto rows = co_await tx.Execute("SELECT org_id, id FROM audit_events WHERE id = $1", p);
        if (!rows) co_return std::unexpected(rows.error());
        seen = rows->rows.size();
        co_return platform::core::Result<void>();
      }));
  ASSERT_TRUE(read) << read.error().internal;
  EXPECT_EQ(seen, 0u);
  const domain::AuditEvent foreign = Entry("org-b", "e-x", 2, "u1", "a", 2000);
  auto write =
      RunSync(db_->Store().Transact(ports::TransactionOptions().Org("org-a"),
                                    [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                      auto inserted = co_await InsertAuditEvent(tx, foreign);
                                      co_return ports::Void(inserted);
                                    }));
  EXPECT_FALSE(write) << "a row of org B written by a transaction of org A";
  // The row is there, as the superuser sees it; nothing of org B was added.
  EXPECT_EQ(db_->Psql("SELECT string_agg(id, ',') FROM audit_events WHERE org_id = 'org-b'"),
            "e-b");
}

INSTANTIATE_TEST_SUITE_P(, AuditStoreTest, tests::support::AllSqlEngines(),
                         tests::support::SqlEngineName);

}  // namespace
}  // namespace trellis::audit::store
