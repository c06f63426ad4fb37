#include "services/audit/store/audit_store.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/audit/testing/audit_test_support.hpp"

namespace trellis::audit::store {
namespace {

namespace ports = platform::ports;
using testing::AuditDb;
using testing::RunSync;

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

class AuditStoreTest : public ::testing::Test {
 protected:
  bool Insert(const domain::AuditEvent& e) {
    bool inserted = false;
    auto r = RunSync(db_.Store().Transact(ports::TransactionOptions().Org(e.org_id),
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
    auto r = RunSync(db_.Store().Transact(ports::TransactionOptions().ReadOnly().Org(org),
                                          [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
                                            auto rows = co_await ListAuditEvents(tx, org, filter,
                                                                                 before, limit);
                                            if (!rows) co_return std::unexpected(rows.error());
                                            for (const auto& e : *rows) ids.push_back(e.id);
                                            co_return platform::core::Result<void>();
                                          }));
    EXPECT_TRUE(r) << r.error().internal;
    return ids;
  }

  AuditDb db_;
};

TEST_F(AuditStoreTest, InsertIsIdempotentByOrgAndEventId) {
  EXPECT_TRUE(Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000)));
  EXPECT_FALSE(Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000)));
  EXPECT_EQ(List("org-a", {}), (std::vector<std::string>{"e1"}));
}

TEST_F(AuditStoreTest, ListsNewestFirstWithinTheOrgOnly) {
  Insert(Entry("org-a", "e1", 1, "u1", "work.task.created", 1000));
  Insert(Entry("org-b", "e2", 2, "u1", "work.task.created", 2000));
  Insert(Entry("org-a", "e3", 3, "u2", "identity.member.invited", 3000));
  Insert(Entry("org-a", "e4", 4, "u1", "work.task.updated", 4000));
  EXPECT_EQ(List("org-a", {}), (std::vector<std::string>{"e4", "e3", "e1"}));
  EXPECT_EQ(List("org-b", {}), (std::vector<std::string>{"e2"}));
  EXPECT_EQ(List("org-a", {}, 4, 1), (std::vector<std::string>{"e3"}));
}

TEST_F(AuditStoreTest, FiltersByActorActionAndTime) {
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

}  // namespace
}  // namespace trellis::audit::store
