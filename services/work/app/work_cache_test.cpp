// What the work context caches (work_cache.hpp, ADR 0019): canonical keys, the stored forms,
// and WorkApp's cached reads over the in-process cache on a real SQLite work database (a warm
// hit reads nothing, a write is seen by the next read, authorization runs on every call from
// the cached role, a write committed during a read is not cached).
#include "services/work/app/work_cache.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "adapters/memory/memory_cache.hpp"
#include "platform/cache/cache_aside.hpp"
#include "platform/cache/invalidator.hpp"
#include "platform/core/ids.hpp"
#include "platform/observe/metrics.hpp"
#include "proto/trellis/identity/v1/membership_cache.hpp"
#include "services/work/app/work_app.hpp"
#include "services/work/work_test_support.hpp"
#include "tests/support/interleaving_store.hpp"

namespace trellis::work::app {
namespace {

namespace core = platform::core;
using platform::ports::Awaitable;
using platform::ports::SqlStore;
using platform::ports::TransactionBody;
using platform::ports::TransactionOptions;
using testing::FakeIdentity;
using testing::RunSync;
using testing::WorkDb;

store::TaskQuery Query(const std::string& project) {
  store::TaskQuery q;
  q.project_id = project;
  return q;
}

TEST(WorkCacheTest, KeysAreCanonicalAndTellQueriesApart) {
  store::TaskQuery a = Query("p");
  a.statuses = {domain::TaskStatus::kTodo, domain::TaskStatus::kDone};
  store::TaskQuery b = Query("p");
  b.statuses = {domain::TaskStatus::kDone, domain::TaskStatus::kTodo};
  EXPECT_EQ(TaskQueryKey(a), TaskQueryKey(b));
  store::TaskQuery c = a;
  c.descending = false;
  store::TaskQuery d = a;
  d.limit = 10;
  store::TaskQuery e = a;
  e.label = "x";
  store::TaskQuery f = a;
  f.text = "x";
  store::TaskQuery g = a;
  g.assignee_id = "";
  for (const auto* other : {&c, &d, &e, &f, &g}) {
    EXPECT_NE(TaskQueryKey(a), TaskQueryKey(*other));
  }
  EXPECT_NE(TaskQueryKey(e), TaskQueryKey(f));
}

TEST(WorkCacheTest, PagesAndProjectsComeBackAsStored) {
  RenderedTaskPage page;
  page.items = "{\"id\":\"a\\nb\"},{\"id\":2}";
  page.next = store::Position{"k:with\ncolons:", "id-1"};
  auto back = RenderedTaskPage::Parse(page.Serialize());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->items, page.items);
  ASSERT_TRUE(back->next);
  EXPECT_EQ(back->next->key, page.next->key);
  EXPECT_EQ(back->next->id, page.next->id);
  RenderedTaskPage last;
  auto last_back = RenderedTaskPage::Parse(last.Serialize());
  ASSERT_TRUE(last_back);
  EXPECT_FALSE(last_back->next);
  EXPECT_EQ(last_back->items, "");
  for (const char* bad : {"", "x", "k3:ab", "k1:ai9:x\n"}) {
    EXPECT_FALSE(RenderedTaskPage::Parse(bad)) << bad;
  }

  domain::Project p;
  p.org_id = "o";
  p.id = "p";
  p.name = "Name \"quoted\"";
  p.description = "d\u00e9";
  p.archived = true;
  p.created_by = "u";
  p.created_at_ms = 1;
  p.updated_at_ms = 2;
  p.version = 3;
  auto project = ParseProject(SerializeProject(p));
  ASSERT_TRUE(project);
  EXPECT_EQ(project->name, p.name);
  EXPECT_EQ(project->description, p.description);
  EXPECT_TRUE(project->archived);
  EXPECT_EQ(project->version, 3);
  EXPECT_FALSE(ParseProject("{}"));
  EXPECT_FALSE(ParseProject("not json"));
}

// --- behind WorkApp ------------------------------------------------------------------------

using tests::support::InterleavingStore;

// Items in a joined page (each task's JSON has one "project_id").
std::size_t Count(const RenderedTaskPage& page) {
  std::size_t n = 0;
  for (auto at = page.items.find("\"project_id\""); at != std::string::npos;
       at = page.items.find("\"project_id\"", at + 1)) {
    ++n;
  }
  return n;
}

class WorkAppPageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    org_ = ids_.Next();
    user_.user_id = ids_.Next();
    identity_.Set(org_, user_.user_id, core::Role::kMember);
    CreateProjectInput p;
    p.org_id = org_;
    p.name = "P";
    auto project = RunSync(app_.CreateProject(user_, {}, std::move(p)));
    ASSERT_TRUE(project) << project.error().message;
    project_ = project->id;
  }

  core::Result<RenderedTaskPage> List() {
    ListTasksInput in;
    in.org_id = org_;
    in.query = Query(project_);
    return RunSync(app_.ListTaskPage(user_, {}, std::move(in)));
  }
  Awaitable<domain::Task> Create(std::string title) {
    CreateTaskInput in;
    in.org_id = org_;
    in.project_id = project_;
    in.title = std::move(title);
    return app_.CreateTask(user_, {}, std::move(in));
  }

  static WorkCaching Caching(platform::cache::CacheAside& cache,
                             platform::cache::CacheInvalidator& invalidator) {
    invalidator.On(kWorkEventPrefix, kWorkNamespacePrefix);
    invalidator.On(identity::v1::kMembershipEventPrefix, identity::v1::kMembershipNamespacePrefix);
    WorkCaching c;
    c.cache = &cache;
    c.invalidator = &invalidator;
    return c;
  }

  WorkDb db_;
  InterleavingStore store_{db_.Store()};
  core::UuidV7Generator ids_{core::SystemClock::Instance()};
  FakeIdentity identity_;
  platform::observe::Registry registry_;
  adapters::memory::MemoryCache memory_{adapters::memory::CacheSettings{}, db_.Clock()};
  platform::cache::CacheAside cache_{memory_, db_.Clock(), registry_, "work"};
  platform::cache::CacheInvalidator invalidator_{cache_, db_.Clock()};
  WorkApp app_{store_, identity_, db_.Clock(), ids_, nullptr, Caching(cache_, invalidator_)};
  core::Principal user_;
  std::string org_;
  std::string project_;
};

TEST_F(WorkAppPageCacheTest, AWarmHitIsTheSamePageAndEveryWriteIsSeenAtOnce) {
  auto first = Create("one");
  ASSERT_TRUE(RunSync(std::move(first)));
  auto cold = List();
  ASSERT_TRUE(cold);
  const int reads = store_.reads;
  const int membership_calls = identity_.membership_calls;
  auto warm = List();
  ASSERT_TRUE(warm);
  EXPECT_EQ(store_.reads, reads) << "the second list is served from the cache";
  EXPECT_EQ(identity_.membership_calls, membership_calls) << "and so is the caller's role";
  EXPECT_EQ(cold->items, warm->items);
  ASSERT_EQ(Count(*warm), 1U);

  // Create: the next list shows the task.
  auto created = RunSync(Create("two"));
  ASSERT_TRUE(created);
  auto after_create = List();
  ASSERT_TRUE(after_create);
  ASSERT_EQ(Count(*after_create), 2U);
  EXPECT_LT(after_create->items.find("\"two\""), after_create->items.find("\"one\""))
      << "newest first: " << after_create->items;

  // Update: the next list shows the change.
  UpdateTaskInput up;
  up.org_id = org_;
  up.task_id = created->id;
  up.expected.any = true;
  up.title = "renamed";
  ASSERT_TRUE(RunSync(app_.UpdateTask(user_, {}, std::move(up))));
  auto after_update = List();
  ASSERT_TRUE(after_update);
  EXPECT_NE(after_update->items.find("\"renamed\""), std::string::npos);

  // Delete: gone from the next list.
  DeleteTaskInput del;
  del.org_id = org_;
  del.task_id = created->id;
  del.expected.any = true;
  ASSERT_TRUE(RunSync(app_.DeleteTask(user_, {}, std::move(del))));
  auto after_delete = List();
  ASSERT_TRUE(after_delete);
  EXPECT_EQ(Count(*after_delete), 1U);
}

TEST_F(WorkAppPageCacheTest, AuthorizationRunsOnEveryCallAndARemovalIsSeenAtOnce) {
  ASSERT_TRUE(RunSync(Create("one")));
  ASSERT_TRUE(List());
  ASSERT_TRUE(List());  // warm: role and page from the cache
  core::Principal stranger;
  stranger.user_id = ids_.Next();
  ListTasksInput in;
  in.org_id = org_;
  in.query = Query(project_);
  auto refused = RunSync(app_.ListTaskPage(stranger, {}, std::move(in)));
  ASSERT_FALSE(refused) << "a warm page is no one's without a role";
  EXPECT_EQ(refused.error().code, core::ErrorCode::kNotFound);

  // Identity removes the member and its event invalidates the org's cached roles.
  identity_.Remove(org_, user_.user_id);
  RunSync([this]() -> boost::asio::awaitable<core::Result<void>> {
    co_await invalidator_.Committed("identity.member.removed", org_, core::Clock::MonoTime::max());
    co_return core::Result<void>();
  }());
  auto removed = List();
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, core::ErrorCode::kNotFound);
}

TEST_F(WorkAppPageCacheTest, AProjectIsCachedAndItsUpdateSeenAtOnce) {
  auto cold = RunSync(app_.GetProject(user_, {}, org_, project_));
  ASSERT_TRUE(cold);
  const int reads = store_.reads;
  auto warm = RunSync(app_.GetProject(user_, {}, org_, project_));
  ASSERT_TRUE(warm);
  EXPECT_EQ(store_.reads, reads);
  EXPECT_EQ(warm->name, "P");
  UpdateProjectInput up;
  up.org_id = org_;
  up.project_id = project_;
  up.expected.any = true;
  up.name = "Renamed";
  ASSERT_TRUE(RunSync(app_.UpdateProject(user_, {}, std::move(up))));
  auto after = RunSync(app_.GetProject(user_, {}, org_, project_));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->name, "Renamed");
  EXPECT_EQ(after->version, cold->version + 1);
  auto missing = RunSync(app_.GetProject(user_, {}, org_, "no-such-project"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kNotFound);
}

TEST_F(WorkAppPageCacheTest, AWriteCommittedDuringAReadIsNotLeftCachedAsTheOldPage) {
  ASSERT_TRUE(RunSync(Create("one")));
  // The list reads one task; before its result returns, another task is committed.
  store_.during_read = [this]() -> Awaitable<void> {
    auto t = co_await Create("two");
    if (!t) co_return std::unexpected(t.error());
    co_return core::Result<void>();
  };
  auto in_flight = List();
  ASSERT_TRUE(in_flight);
  EXPECT_EQ(Count(*in_flight), 1U) << "read before the write";
  auto next = List();
  ASSERT_TRUE(next);
  EXPECT_EQ(Count(*next), 2U) << "the old page must not have been cached";
  auto again = List();
  ASSERT_TRUE(again);
  EXPECT_EQ(Count(*again), 2U);
}

}  // namespace
}  // namespace trellis::work::app
