// The task-page cache (ADR 0011): alone (hits, keys, the stale-fill guard, the bound) and
// behind WorkApp::ListTaskPage on a real SQLite work database (a write is seen by the next
// list, authorization runs before the cache, a write committed during a read is not cached).
#include "services/work/app/task_page_cache.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "platform/core/ids.hpp"
#include "services/work/app/work_app.hpp"
#include "services/work/work_test_support.hpp"

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

std::shared_ptr<const RenderedTaskPage> PageOf(std::string item) {
  auto page = std::make_shared<RenderedTaskPage>();
  page->items.push_back(std::move(item));
  return page;
}

store::TaskQuery Query(const std::string& project) {
  store::TaskQuery q;
  q.project_id = project;
  return q;
}

TEST(TaskPageCacheTest, HitAfterFillAndMissForAnotherQueryOrOrg) {
  TaskPageCache cache;
  const std::string key = TaskPageCache::KeyOf(Query("p1"));
  EXPECT_EQ(cache.Find("org", key), nullptr);
  cache.Fill("org", key, PageOf("{\"id\":1}"), cache.Token());
  auto hit = cache.Find("org", key);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->items.at(0), "{\"id\":1}");
  EXPECT_EQ(cache.Find("other-org", key), nullptr);
  store::TaskQuery later = Query("p1");
  later.after = store::Position{"k", "id"};
  EXPECT_EQ(cache.Find("org", TaskPageCache::KeyOf(later)), nullptr);
}

TEST(TaskPageCacheTest, KeysAreCanonicalAndTellQueriesApart) {
  store::TaskQuery a = Query("p");
  a.statuses = {domain::TaskStatus::kTodo, domain::TaskStatus::kDone};
  store::TaskQuery b = Query("p");
  b.statuses = {domain::TaskStatus::kDone, domain::TaskStatus::kTodo};
  EXPECT_EQ(TaskPageCache::KeyOf(a), TaskPageCache::KeyOf(b));
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
    EXPECT_NE(TaskPageCache::KeyOf(a), TaskPageCache::KeyOf(*other));
  }
  EXPECT_NE(TaskPageCache::KeyOf(e), TaskPageCache::KeyOf(f));
}

TEST(TaskPageCacheTest, InvalidateDropsOnlyThatOrgsPages) {
  TaskPageCache cache;
  const std::string key = TaskPageCache::KeyOf(Query("p1"));
  cache.Fill("a", key, PageOf("a"), cache.Token());
  cache.Fill("b", key, PageOf("b"), cache.Token());
  cache.Invalidate("a");
  EXPECT_EQ(cache.Find("a", key), nullptr);
  EXPECT_NE(cache.Find("b", key), nullptr);
  EXPECT_EQ(cache.Pages(), 1U);
}

TEST(TaskPageCacheTest, AFillReadBeforeAnInvalidationIsDropped) {
  TaskPageCache cache;
  const std::string key = TaskPageCache::KeyOf(Query("p1"));
  const auto token = cache.Token();  // the read starts
  cache.Invalidate("a");             // a write commits meanwhile
  cache.Fill("a", key, PageOf("old"), token);
  EXPECT_EQ(cache.Find("a", key), nullptr);
  // Another org's write does not hold back this org's fill.
  const auto token2 = cache.Token();
  cache.Invalidate("b");
  cache.Fill("a", key, PageOf("new"), token2);
  EXPECT_NE(cache.Find("a", key), nullptr);
}

TEST(TaskPageCacheTest, PagesAndBytesAreBounded) {
  TaskPageCache cache({.max_pages = 3, .max_bytes = std::size_t{1} << 20});
  for (int i = 0; i < 10; ++i) {
    cache.Fill("org", TaskPageCache::KeyOf(Query("p" + std::to_string(i))), PageOf("x"),
               cache.Token());
    EXPECT_LE(cache.Pages(), 3U);
  }
  EXPECT_EQ(cache.Pages(), 3U);

  TaskPageCache small({.max_pages = 100, .max_bytes = 4096});
  for (int i = 0; i < 10; ++i) {
    small.Fill("org", TaskPageCache::KeyOf(Query("p" + std::to_string(i))),
               PageOf(std::string(1000, 'x')), small.Token());
    EXPECT_LE(small.Bytes(), 4096U);
  }
  EXPECT_GT(small.Pages(), 0U);
  EXPECT_LT(small.Pages(), 10U);
  // A page larger than the whole budget is not kept.
  small.Fill("org", "huge", PageOf(std::string(10000, 'x')), small.Token());
  EXPECT_EQ(small.Find("org", "huge"), nullptr);
}

TEST(TaskPageCacheTest, ForgettingOrgsKeepsTheGuard) {
  TaskPageCache cache({.max_pages = 2, .max_bytes = std::size_t{1} << 20});
  const auto token = cache.Token();
  for (int i = 0; i < 5; ++i) cache.Invalidate("org" + std::to_string(i));
  cache.Fill("org0", "k", PageOf("old"), token);
  EXPECT_EQ(cache.Find("org0", "k"), nullptr);
  cache.Fill("org0", "k", PageOf("new"), cache.Token());
  EXPECT_NE(cache.Find("org0", "k"), nullptr);
}

// --- behind WorkApp ------------------------------------------------------------------------

// Runs `during_read` after a read-only transaction has read (and before its result reaches the
// caller): a write committed while a list is in flight, deterministically.
class InterleavingStore final : public SqlStore {
 public:
  explicit InterleavingStore(SqlStore& inner) : inner_(inner) {}
  std::function<Awaitable<void>()> during_read;

  // SqlStore
  boost::asio::awaitable<core::Result<void>> Transact(TransactionOptions options,
                                                      TransactionBody body) override {
    const bool read_only = options.read_only;
    auto r = co_await inner_.Transact(std::move(options), std::move(body));
    if (read_only && during_read) {
      auto hook = std::move(during_read);
      during_read = nullptr;
      auto w = co_await hook();
      EXPECT_TRUE(w) << w.error().message;
    }
    co_return r;
  }

 private:
  SqlStore& inner_;
};

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

  core::Result<std::shared_ptr<const RenderedTaskPage>> List() {
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

  WorkDb db_;
  InterleavingStore store_{db_.Store()};
  core::UuidV7Generator ids_{core::SystemClock::Instance()};
  FakeIdentity identity_;
  WorkApp app_{store_, identity_, db_.Clock(), ids_, nullptr};
  core::Principal user_;
  std::string org_;
  std::string project_;
};

TEST_F(WorkAppPageCacheTest, AWarmHitIsTheSamePageAndEveryWriteIsSeenAtOnce) {
  auto first = Create("one");
  ASSERT_TRUE(RunSync(std::move(first)));
  auto cold = List();
  ASSERT_TRUE(cold);
  auto warm = List();
  ASSERT_TRUE(warm);
  EXPECT_EQ(cold->get(), warm->get()) << "the second list is served from the cache";
  ASSERT_EQ((*warm)->items.size(), 1U);

  // Create: the next list shows the task.
  auto created = RunSync(Create("two"));
  ASSERT_TRUE(created);
  auto after_create = List();
  ASSERT_TRUE(after_create);
  ASSERT_EQ((*after_create)->items.size(), 2U);
  EXPECT_NE((*after_create)->items.at(0).find("\"two\""), std::string::npos);

  // Update: the next list shows the change.
  UpdateTaskInput up;
  up.org_id = org_;
  up.task_id = created->id;
  up.expected.any = true;
  up.title = "renamed";
  ASSERT_TRUE(RunSync(app_.UpdateTask(user_, {}, std::move(up))));
  auto after_update = List();
  ASSERT_TRUE(after_update);
  EXPECT_NE((*after_update)->items.at(0).find("\"renamed\""), std::string::npos);

  // Delete: gone from the next list.
  DeleteTaskInput del;
  del.org_id = org_;
  del.task_id = created->id;
  del.expected.any = true;
  ASSERT_TRUE(RunSync(app_.DeleteTask(user_, {}, std::move(del))));
  auto after_delete = List();
  ASSERT_TRUE(after_delete);
  EXPECT_EQ((*after_delete)->items.size(), 1U);
}

TEST_F(WorkAppPageCacheTest, AuthorizationRunsBeforeTheCache) {
  ASSERT_TRUE(RunSync(Create("one")));
  ASSERT_TRUE(List());
  ASSERT_TRUE(List());  // warm
  const int calls = identity_.membership_calls;
  ASSERT_TRUE(List());
  EXPECT_EQ(identity_.membership_calls, calls + 1) << "every list asks for the membership";
  identity_.Remove(org_, user_.user_id);
  auto removed = List();
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code, core::ErrorCode::kNotFound);
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
  EXPECT_EQ((*in_flight)->items.size(), 1U) << "read before the write";
  auto next = List();
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)->items.size(), 2U) << "the old page must not have been cached";
}

}  // namespace
}  // namespace trellis::work::app
