#include "services/audit/app/audit_app.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/audit/testing/audit_test_support.hpp"

namespace trellis::audit::app {
namespace {

using platform::core::ErrorCode;
using platform::core::Principal;
using platform::core::Role;
using testing::MakeEvent;
using testing::RunSync;

Principal User(std::string id) {
  Principal p;
  p.user_id = std::move(id);
  return p;
}
Principal ApiKey(std::string org, Role role) {
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.api_key_id = "key-1";
  p.api_key_org_id = std::move(org);
  p.api_key_role = role;
  p.user_id = "creator";
  return p;
}

class AuditAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    identity_.Add("org-a", "owner", Role::kOwner);
    identity_.Add("org-a", "admin", Role::kAdmin);
    identity_.Add("org-a", "member", Role::kMember);
    identity_.Add("org-a", "viewer", Role::kViewer);
    identity_.Add("org-b", "admin-b", Role::kAdmin);
  }
  platform::core::Result<AuditPage> List(const Principal& who, std::string org,
                                         AuditQuery query = {}) {
    return RunSync(app_.ListAuditEvents(who, {}, std::move(org), std::move(query)));
  }

  testing::AuditDb db_;
  testing::FakeIdentity identity_;
  AuditApp app_{db_.Store(), identity_};
};

TEST_F(AuditAppTest, ProjectingTheSameEventTwiceKeepsOneRow) {
  auto e = MakeEvent("e1", "org-a", 7, "work.task.created", "u1", 1000);
  ASSERT_TRUE(RunSync(app_.Project(e)));
  ASSERT_TRUE(RunSync(app_.Project(e)));
  auto page = List(User("admin"), "org-a");
  ASSERT_TRUE(page) << page.error().internal;
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, "e1");
  EXPECT_EQ(page->items[0].seq, 7);
  EXPECT_EQ(page->items[0].action, "work.task.created");
  EXPECT_EQ(page->items[0].actor_id, "u1");
  EXPECT_EQ(page->items[0].payload, R"({"n":7})");
}

TEST_F(AuditAppTest, AMalformedPayloadIsStoredAsAnObject) {
  auto e = MakeEvent("e1", "org-a", 1, "work.task.created", "u1", 1000);
  e.payload = "not json";
  ASSERT_TRUE(RunSync(app_.Project(e)));
  EXPECT_EQ(List(User("admin"), "org-a")->items.at(0).payload, R"({"raw":"not json"})");
}

TEST_F(AuditAppTest, OnlyOwnersAndAdminsMayRead) {
  ASSERT_TRUE(RunSync(app_.Project(MakeEvent("e1", "org-a", 1, "t.x.y", "u1", 1))));
  EXPECT_TRUE(List(User("owner"), "org-a"));
  EXPECT_TRUE(List(User("admin"), "org-a"));
  EXPECT_EQ(List(User("member"), "org-a").error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(List(User("viewer"), "org-a").error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(List(User("stranger"), "org-a").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(List(User("admin-b"), "org-a").error().code, ErrorCode::kNotFound);
}

TEST_F(AuditAppTest, ApiKeysUseTheirOwnOrgAndRole) {
  ASSERT_TRUE(RunSync(app_.Project(MakeEvent("e1", "org-a", 1, "t.x.y", "u1", 1))));
  EXPECT_EQ(List(ApiKey("org-a", Role::kAdmin), "org-a")->items.size(), 1u);
  EXPECT_EQ(List(ApiKey("org-a", Role::kMember), "org-a").error().code,
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(List(ApiKey("org-b", Role::kOwner), "org-a").error().code, ErrorCode::kNotFound);
}

TEST_F(AuditAppTest, PagesNewestFirst) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(RunSync(
        app_.Project(MakeEvent("e" + std::to_string(i), "org-a", i, "t.x.y", "u1", i * 1000))));
  }
  AuditQuery q;
  q.limit = 2;
  auto first = List(User("admin"), "org-a", q);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[0].id, "e5");
  EXPECT_EQ(first->items[1].id, "e4");
  ASSERT_TRUE(first->next_before_seq);
  q.before_seq = first->next_before_seq;
  auto second = List(User("admin"), "org-a", q);
  EXPECT_EQ(second->items.at(0).id, "e3");
  q.before_seq = second->next_before_seq;
  auto last = List(User("admin"), "org-a", q);
  ASSERT_EQ(last->items.size(), 1u);
  EXPECT_EQ(last->items[0].id, "e1");
  EXPECT_FALSE(last->next_before_seq);
}

}  // namespace
}  // namespace trellis::audit::app
