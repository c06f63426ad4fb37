// The work repository on both engines (tests/support/sql_engines.hpp): a migrated SQLite file,
// and PostgreSQL as trellis_work under row-level security. Every function, and org scoping (a
// row of org B is never read, changed or deleted through org A). Each transaction carries its
// org; the cross-org attempts run in the transaction of the org that owns the row, so that on
// PostgreSQL the row is visible to it and only the query's org filter refuses (the database's
// own refusal has a case of its own).
#include "services/work/store/work_store.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "platform/ports/run_sync.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::work::store {
namespace {

namespace core = platform::core;
using core::ErrorCode;
using core::Result;
using domain::Comment;
using domain::Project;
using domain::Task;
using domain::TaskStatus;
using platform::ports::RunSync;
using platform::ports::TransactionOptions;
using tests::support::EngineStore;
using tests::support::SqlContext;
using tests::support::SqlEngine;

constexpr const char* kOrgA = "org-a";
constexpr const char* kOrgB = "org-b";

class WorkStoreTest : public ::testing::TestWithParam<SqlEngine> {
 protected:
  WorkStoreTest() : db_(EngineStore::Open(GetParam(), SqlContext::kWork)) {}

  // Runs body in one write transaction of `org`.
  Result<void> Tx(const std::string& org, std::function<Awaitable<void>(SqlTransaction&)> body) {
    return RunSync(db_->Store().Transact(TransactionOptions().Org(org), std::move(body)));
  }

  Project MakeProject(const std::string& org, const std::string& id, std::int64_t created) {
    Project p;
    p.org_id = org;
    p.id = id;
    p.name = "Project " + id;
    p.created_by = "user-1";
    p.created_at_ms = created;
    p.updated_at_ms = created;
    return p;
  }
  Task MakeTask(const std::string& org, const std::string& project, const std::string& id,
                std::int64_t created) {
    Task t;
    t.org_id = org;
    t.id = id;
    t.project_id = project;
    t.title = "Task " + id;
    t.created_by = "user-1";
    t.created_at_ms = created;
    t.updated_at_ms = created;
    return t;
  }
  void Insert(const Project& p) {
    auto r = Tx(p.org_id, [&](SqlTransaction& tx) { return InsertProject(tx, p); });
    ASSERT_TRUE(r) << r.error().internal;
  }
  void Insert(const Task& t) {
    auto r = Tx(t.org_id, [&](SqlTransaction& tx) { return InsertTask(tx, t); });
    ASSERT_TRUE(r) << r.error().internal;
  }
  void Insert(const Comment& c) {
    auto r = Tx(c.org_id, [&](SqlTransaction& tx) { return InsertComment(tx, c); });
    ASSERT_TRUE(r) << r.error().internal;
  }
  // In a transaction of `as` (default: `org`).
  Result<Project> FetchProject(const std::string& org, const std::string& id,
                               const std::string& as = "") {
    Result<Project> out = core::Fail(ErrorCode::kInternal, "unset");
    auto r = Tx(as.empty() ? org : as, [&](SqlTransaction& tx) -> Awaitable<void> {
      out = co_await GetProject(tx, org, id);
      co_return Result<void>();
    });
    EXPECT_TRUE(r);
    return out;
  }
  Result<Task> FetchTask(const std::string& org, const std::string& id,
                         const std::string& as = "") {
    Result<Task> out = core::Fail(ErrorCode::kInternal, "unset");
    auto r = Tx(as.empty() ? org : as, [&](SqlTransaction& tx) -> Awaitable<void> {
      out = co_await GetTask(tx, org, id);
      co_return Result<void>();
    });
    EXPECT_TRUE(r);
    return out;
  }
  Result<std::vector<Task>> List(const std::string& org, const TaskQuery& q) {
    Result<std::vector<Task>> out = core::Fail(ErrorCode::kInternal, "unset");
    auto r = RunSync(db_->Store().Transact(TransactionOptions().ReadOnly().Org(org),
                                           [&](SqlTransaction& tx) -> Awaitable<void> {
                                             out = co_await ListTasks(tx, org, q);
                                             co_return Result<void>();
                                           }));
    EXPECT_TRUE(r);
    return out;
  }
  std::vector<std::string> Ids(const std::string& org, const TaskQuery& q) {
    auto tasks = List(org, q);
    EXPECT_TRUE(tasks) << tasks.error().internal;
    std::vector<std::string> out;
    if (tasks) {
      for (const Task& t : *tasks) out.push_back(t.id);
    }
    return out;
  }

  std::unique_ptr<EngineStore> db_;
};

TEST_P(WorkStoreTest, ProjectsRoundTripAndStayInTheirOrg) {
  Project p = MakeProject(kOrgA, "p1", 1000);
  p.description = "The first";
  Insert(p);
  auto got = FetchProject(kOrgA, "p1");
  ASSERT_TRUE(got) << got.error().internal;
  EXPECT_EQ(got->name, "Project p1");
  EXPECT_EQ(got->description, "The first");
  EXPECT_FALSE(got->archived);
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->created_at_ms, 1000);

  auto other = FetchProject(kOrgB, "p1", /*as=*/kOrgA);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
}

TEST_P(WorkStoreTest, UpdateProjectNeedsTheExpectedVersionAndItsOrg) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Project changed = MakeProject(kOrgA, "p1", 1000);
  changed.name = "Renamed";
  changed.archived = true;
  changed.version = 2;
  changed.updated_at_ms = 2000;
  auto stale = Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateProject(tx, changed, 7); });
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);

  Project foreign = changed;
  foreign.org_id = kOrgB;
  auto cross = Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateProject(tx, foreign, 1); });
  EXPECT_FALSE(cross);

  auto ok = Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateProject(tx, changed, 1); });
  ASSERT_TRUE(ok) << ok.error().internal;
  auto got = FetchProject(kOrgA, "p1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "Renamed");
  EXPECT_TRUE(got->archived);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->updated_at_ms, 2000);
}

TEST_P(WorkStoreTest, ListProjectsPagesByKeysetFiltersArchivedAndScopesByOrg) {
  for (int i = 0; i < 5; ++i) {
    Project p = MakeProject(kOrgA, "p" + std::to_string(i), 1000 + i);
    p.archived = i == 2;
    Insert(p);
  }
  Insert(MakeProject(kOrgB, "pb", 1003));
  std::vector<std::string> seen;
  ProjectQuery q;
  q.limit = 2;
  for (int page = 0; page < 5; ++page) {
    Result<std::vector<Project>> got = core::Fail(ErrorCode::kInternal, "unset");
    ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
      got = co_await ListProjects(tx, kOrgA, q);
      co_return Result<void>();
    }));
    ASSERT_TRUE(got) << got.error().internal;
    for (const Project& p : *got) seen.push_back(p.id);
    if (got->size() < 2) break;
    q.after = Position{SortKey(got->back(), q.sort), got->back().id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"p4", "p3", "p2", "p1", "p0"}));

  ProjectQuery active;
  active.archived = false;
  active.descending = false;
  active.sort = ProjectSort::kName;
  Result<std::vector<Project>> got = core::Fail(ErrorCode::kInternal, "unset");
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
    got = co_await ListProjects(tx, kOrgA, active);
    co_return Result<void>();
  }));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 4U);
  EXPECT_EQ(got->front().id, "p0");
  for (const Project& p : *got) EXPECT_FALSE(p.archived);
}

TEST_P(WorkStoreTest, TasksRoundTripWithLabelsAndStayInTheirOrg) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Task t = MakeTask(kOrgA, "p1", "t1", 1000);
  t.description = "details";
  t.status = TaskStatus::kInProgress;
  t.priority = domain::kPriorityUrgent;
  t.assignee_id = "user-2";
  t.due_date = "2026-12-01";
  t.labels = {"backend", "bug"};
  Insert(t);
  auto got = FetchTask(kOrgA, "t1");
  ASSERT_TRUE(got) << got.error().internal;
  EXPECT_EQ(got->project_id, "p1");
  EXPECT_EQ(got->status, TaskStatus::kInProgress);
  EXPECT_EQ(got->priority, 1);
  EXPECT_EQ(got->assignee_id, "user-2");
  EXPECT_EQ(got->due_date, "2026-12-01");
  EXPECT_EQ(got->labels, (std::vector<std::string>{"backend", "bug"}));

  auto other = FetchTask(kOrgB, "t1", /*as=*/kOrgA);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
}

TEST_P(WorkStoreTest, ATaskNeedsAProjectOfItsOwnOrg) {
  Insert(MakeProject(kOrgB, "pb", 1000));
  Task t = MakeTask(kOrgA, "pb", "t1", 1000);
  auto r = Tx(kOrgA, [&](SqlTransaction& tx) { return InsertTask(tx, t); });
  // The foreign key (org_id, project_id) refuses it; the use cases check first, so this is a
  // last line of defence and its error code is the adapter's business.
  EXPECT_FALSE(r);
  EXPECT_EQ(FetchTask(kOrgA, "t1").error().code, ErrorCode::kNotFound);
}

TEST_P(WorkStoreTest, UpdateTaskReplacesLabelsAndChecksTheVersion) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Task t = MakeTask(kOrgA, "p1", "t1", 1000);
  t.labels = {"a", "b"};
  Insert(t);
  t.title = "Changed";
  t.labels = {"c"};
  t.assignee_id.reset();
  t.version = 2;
  auto stale = Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateTask(tx, t, 5, true); });
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);

  auto ok = Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateTask(tx, t, 1, true); });
  ASSERT_TRUE(ok) << ok.error().internal;
  auto got = FetchTask(kOrgA, "t1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->title, "Changed");
  EXPECT_EQ(got->labels, std::vector<std::string>{"c"});
  EXPECT_EQ(got->version, 2);

  Task foreign = t;
  foreign.org_id = kOrgB;
  foreign.version = 3;
  EXPECT_FALSE(Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateTask(tx, foreign, 2, false); }));
}

TEST_P(WorkStoreTest, DeleteTaskTakesItsLabelsAndCommentsAndOnlyInItsOrg) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Task t = MakeTask(kOrgA, "p1", "t1", 1000);
  t.labels = {"x"};
  Insert(t);
  Comment c;
  c.org_id = kOrgA;
  c.id = "c1";
  c.task_id = "t1";
  c.author_id = "user-1";
  c.body = "hello";
  Insert(c);

  auto cross = Tx(kOrgA, [&](SqlTransaction& tx) { return DeleteTask(tx, kOrgB, "t1", 1); });
  EXPECT_FALSE(cross);
  auto stale = Tx(kOrgA, [&](SqlTransaction& tx) { return DeleteTask(tx, kOrgA, "t1", 2); });
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  auto ok = Tx(kOrgA, [&](SqlTransaction& tx) { return DeleteTask(tx, kOrgA, "t1", 1); });
  ASSERT_TRUE(ok) << ok.error().internal;
  EXPECT_EQ(FetchTask(kOrgA, "t1").error().code, ErrorCode::kNotFound);

  std::int64_t leftovers = -1;
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
    auto r = co_await tx.Execute(
        "SELECT (SELECT COUNT(*) FROM task_labels) + (SELECT COUNT(*) FROM comments) AS n");
    if (!r) co_return std::unexpected(r.error());
    leftovers = *r->rows.at(0).Get<std::int64_t>("n");
    co_return Result<void>();
  }));
  EXPECT_EQ(leftovers, 0);
  TaskQuery q;
  q.project_id = "p1";
  q.text = "Task";
  EXPECT_TRUE(Ids(kOrgA, q).empty());  // gone from the search index too
}

TEST_P(WorkStoreTest, ListTasksFiltersAndNeverShowsAnotherOrg) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Insert(MakeProject(kOrgA, "p2", 1000));
  Insert(MakeProject(kOrgB, "p1", 1000));  // same project id in another org
  Task t1 = MakeTask(kOrgA, "p1", "t1", 1001);
  t1.labels = {"bug"};
  t1.assignee_id = "u1";
  t1.priority = domain::kPriorityUrgent;
  t1.due_date = "2026-12-01";
  Task t2 = MakeTask(kOrgA, "p1", "t2", 1002);
  t2.status = TaskStatus::kInProgress;
  t2.labels = {"feature"};
  t2.priority = domain::kPriorityLow;
  t2.due_date = "2026-12-20";
  Task t3 = MakeTask(kOrgA, "p1", "t3", 1003);
  t3.status = TaskStatus::kDone;
  t3.assignee_id = "u2";
  Task other_project = MakeTask(kOrgA, "p2", "t4", 1004);
  Task other_org = MakeTask(kOrgB, "p1", "t5", 1005);
  other_org.labels = {"bug"};
  for (const Task& t : {t1, t2, t3, other_project, other_org}) Insert(t);

  TaskQuery all;
  all.project_id = "p1";
  EXPECT_EQ(Ids(kOrgA, all), (std::vector<std::string>{"t3", "t2", "t1"}));
  EXPECT_EQ(Ids(kOrgB, all), std::vector<std::string>{"t5"});

  TaskQuery status = all;
  status.statuses = {TaskStatus::kTodo, TaskStatus::kDone};
  EXPECT_EQ(Ids(kOrgA, status), (std::vector<std::string>{"t3", "t1"}));
  TaskQuery assignee = all;
  assignee.assignee_id = "u1";
  EXPECT_EQ(Ids(kOrgA, assignee), std::vector<std::string>{"t1"});
  assignee.assignee_id = "";
  EXPECT_EQ(Ids(kOrgA, assignee), std::vector<std::string>{"t2"});
  TaskQuery label = all;
  label.label = "bug";
  EXPECT_EQ(Ids(kOrgA, label), std::vector<std::string>{"t1"});
  TaskQuery priority = all;
  priority.priority = domain::kPriorityLow;
  EXPECT_EQ(Ids(kOrgA, priority), std::vector<std::string>{"t2"});
  TaskQuery due = all;
  due.due_before = "2026-12-10";
  EXPECT_EQ(Ids(kOrgA, due), std::vector<std::string>{"t1"});
  due.due_before.reset();
  due.due_after = "2026-12-01";
  EXPECT_EQ(Ids(kOrgA, due), std::vector<std::string>{"t2"});

  TaskQuery by_priority = all;
  by_priority.sort = TaskSort::kPriority;
  by_priority.descending = false;  // urgent first, none last
  EXPECT_EQ(Ids(kOrgA, by_priority), (std::vector<std::string>{"t1", "t2", "t3"}));
  TaskQuery by_due = all;
  by_due.sort = TaskSort::kDueDate;
  by_due.descending = false;  // no due date last
  EXPECT_EQ(Ids(kOrgA, by_due), (std::vector<std::string>{"t1", "t2", "t3"}));

  auto labelled = List(kOrgA, all);
  ASSERT_TRUE(labelled);
  EXPECT_EQ(labelled->at(1).labels, std::vector<std::string>{"feature"});
  EXPECT_EQ(labelled->at(2).labels, std::vector<std::string>{"bug"});
}

TEST_P(WorkStoreTest, FullTextSearchFollowsEditsAndStaysInTheOrg) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Insert(MakeProject(kOrgB, "p1", 1000));
  Task a = MakeTask(kOrgA, "p1", "t1", 1001);
  a.title = "Fix the login page";
  a.description = "Users see a blank screen after password reset";
  Task b = MakeTask(kOrgA, "p1", "t2", 1002);
  b.title = "Write docs";
  Task foreign = MakeTask(kOrgB, "p1", "t3", 1003);
  foreign.title = "Fix the login page";
  for (const Task& t : {a, b, foreign}) Insert(t);

  TaskQuery q;
  q.project_id = "p1";
  q.text = "login";
  EXPECT_EQ(Ids(kOrgA, q), std::vector<std::string>{"t1"});
  q.text = "PASSWORD blank";  // every word, any case, description too
  EXPECT_EQ(Ids(kOrgA, q), std::vector<std::string>{"t1"});
  q.text = "pass";  // the last word is a prefix
  EXPECT_EQ(Ids(kOrgA, q), std::vector<std::string>{"t1"});
  q.text = "login docs";
  EXPECT_TRUE(Ids(kOrgA, q).empty());
  q.text = "\"login\" OR NEAR(";  // FTS5 syntax is just words
  EXPECT_TRUE(Ids(kOrgA, q).empty());
  q.text = "!!!";
  EXPECT_TRUE(Ids(kOrgA, q).empty());

  a.title = "Fix the signup page";
  a.description.clear();
  a.version = 2;
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateTask(tx, a, 1, false); }));
  q.text = "login";
  EXPECT_TRUE(Ids(kOrgA, q).empty());
  q.text = "signup";
  EXPECT_EQ(Ids(kOrgA, q), std::vector<std::string>{"t1"});
}

TEST_P(WorkStoreTest, KeysetPagesHaveNoDuplicatesOrGapsUnderInserts) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  for (int i = 0; i < 25; ++i) {
    // Several tasks share a timestamp: the id breaks ties.
    Task t = MakeTask(kOrgA, "p1", "t" + std::to_string(100 + i), 1000 + i / 3);
    t.labels = {"l" + std::to_string(i % 4)};
    Insert(t);
  }
  for (const TaskSort sort :
       {TaskSort::kCreatedAt, TaskSort::kUpdatedAt, TaskSort::kPriority, TaskSort::kDueDate}) {
    TaskQuery q;
    q.project_id = "p1";
    q.sort = sort;
    q.limit = 4;
    std::vector<std::string> seen;
    for (int page = 0; page < 20; ++page) {
      auto got = List(kOrgA, q);
      ASSERT_TRUE(got) << got.error().internal;
      for (const Task& t : *got) {
        seen.push_back(t.id);
        EXPECT_EQ(t.labels.size(), t.id == "t999" ? 0U : 1U);
      }
      if (page == 1 && sort == TaskSort::kCreatedAt) {
        // A newer task lands before the cursor (newest first): it must not shift the pages.
        Insert(MakeTask(kOrgA, "p1", "t999", 5000));
      }
      if (got->size() < 4) break;
      q.after = Position{SortKey(got->back(), sort), got->back().id};
    }
    // The first pass inserts t999 behind its cursor; the later passes see it like any task.
    const std::size_t expected = sort == TaskSort::kCreatedAt ? 25U : 26U;
    EXPECT_EQ(seen.size(), expected);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), expected);
  }
}

TEST_P(WorkStoreTest, CommentsRoundTripPageOldestFirstAndStayInTheirOrgAndTask) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Insert(MakeTask(kOrgA, "p1", "t1", 1000));
  Insert(MakeTask(kOrgA, "p1", "t2", 1000));
  for (int i = 0; i < 5; ++i) {
    Comment c;
    c.org_id = kOrgA;
    c.id = "c" + std::to_string(i);
    c.task_id = "t1";
    c.author_id = "user-1";
    c.body = "comment " + std::to_string(i);
    c.created_at_ms = c.updated_at_ms = 2000 + i;
    Insert(c);
  }
  Result<Comment> got = core::Fail(ErrorCode::kInternal, "unset");
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
    got = co_await GetComment(tx, kOrgA, "t1", "c2");
    co_return Result<void>();
  }));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, "comment 2");
  for (const auto& [org, task] :
       std::vector<std::pair<std::string, std::string>>{{kOrgB, "t1"}, {kOrgA, "t2"}}) {
    ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
      got = co_await GetComment(tx, org, task, "c2");
      co_return Result<void>();
    }));
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  }

  Comment edited = got.has_value() ? *got : Comment{};
  edited.org_id = kOrgA;
  edited.id = "c2";
  edited.task_id = "t1";
  edited.author_id = "user-1";
  edited.body = "edited";
  edited.version = 2;
  EXPECT_FALSE(Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateComment(tx, edited, 9); }));
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) { return UpdateComment(tx, edited, 1); }));
  EXPECT_FALSE(Tx(kOrgA, [&](SqlTransaction& tx) { return DeleteComment(tx, kOrgB, "c3", 1); }));
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) { return DeleteComment(tx, kOrgA, "c3", 1); }));

  CommentQuery q;
  q.task_id = "t1";
  q.limit = 2;
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    Result<std::vector<Comment>> list = core::Fail(ErrorCode::kInternal, "unset");
    ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
      list = co_await ListComments(tx, kOrgA, q);
      co_return Result<void>();
    }));
    ASSERT_TRUE(list);
    for (const Comment& c : *list) seen.push_back(c.id + "=" + c.body);
    if (list->size() < 2) break;
    q.after = Position{SortKey(list->back()), list->back().id};
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"c0=comment 0", "c1=comment 1", "c2=edited",
                                            "c4=comment 4"}));
}

TEST_P(WorkStoreTest, ProjectSummaryCountsTheProjectsTasksAndCommentsOnly) {
  Insert(MakeProject(kOrgA, "p1", 1000));
  Insert(MakeProject(kOrgA, "p2", 1000));
  Insert(MakeProject(kOrgB, "p1", 1000));
  // p1: two todo (one overdue, unassigned and urgent; one due today), one in progress (high,
  // assigned, overdue), one done (overdue but done), one canceled (urgent but canceled).
  Task a = MakeTask(kOrgA, "p1", "a", 1000);
  a.due_date = "2026-11-23";
  a.priority = domain::kPriorityUrgent;
  a.updated_at_ms = 5000;
  Task b = MakeTask(kOrgA, "p1", "b", 1000);
  b.due_date = "2026-11-24";
  b.assignee_id = "user-2";
  b.priority = domain::kPriorityMedium;
  b.updated_at_ms = 4000;
  Task c = MakeTask(kOrgA, "p1", "c", 1000);
  c.status = TaskStatus::kInProgress;
  c.priority = domain::kPriorityHigh;
  c.assignee_id = "user-2";
  c.due_date = "2026-01-01";
  c.updated_at_ms = 7000;
  Task d = MakeTask(kOrgA, "p1", "d", 1000);
  d.status = TaskStatus::kDone;
  d.due_date = "2026-01-01";
  d.updated_at_ms = 6000;
  Task e = MakeTask(kOrgA, "p1", "e", 1000);
  e.status = TaskStatus::kCanceled;
  e.priority = domain::kPriorityUrgent;
  e.updated_at_ms = 3000;
  // Elsewhere: another project of the org, and the same project id in another org.
  Task other_project = MakeTask(kOrgA, "p2", "x", 1000);
  other_project.updated_at_ms = 9000;
  Task other_org = MakeTask(kOrgB, "p1", "y", 1000);
  other_org.updated_at_ms = 9000;
  for (const Task* t : {&a, &b, &c, &d, &e, &other_project, &other_org}) Insert(*t);
  auto comment = [](const std::string& org, const std::string& id, const std::string& task,
                    std::int64_t at) {
    Comment cm;
    cm.org_id = org;
    cm.id = id;
    cm.task_id = task;
    cm.author_id = "user-1";
    cm.body = "note";
    cm.created_at_ms = at;
    cm.updated_at_ms = at;
    return cm;
  };
  Insert(comment(kOrgA, "c1", "a", 100000));  // in the window
  Insert(comment(kOrgA, "c2", "d", 100000));  // in the window, on a done task
  Insert(comment(kOrgA, "c3", "a", 50000));   // before the window
  Insert(comment(kOrgA, "c4", "x", 100000));  // another project
  Insert(comment(kOrgB, "c5", "y", 100000));  // another org

  SummaryQuery q;
  q.project_id = "p1";
  q.today = "2026-11-24";
  q.comments_since_ms = 60000;
  q.recent = 3;
  Result<ProjectSummary> got = core::Fail(ErrorCode::kInternal, "unset");
  ASSERT_TRUE(RunSync(db_->Store().Transact(TransactionOptions().ReadOnly().Org(kOrgA),
                                            [&](SqlTransaction& tx) -> Awaitable<void> {
                                              got = co_await GetProjectSummary(tx, kOrgA, q);
                                              co_return Result<void>();
                                            })));
  ASSERT_TRUE(got) << got.error().internal;
  EXPECT_EQ(got->project.id, "p1");
  EXPECT_EQ(got->project.org_id, kOrgA);
  EXPECT_EQ(got->todo, 2);
  EXPECT_EQ(got->in_progress, 1);
  EXPECT_EQ(got->done, 1);
  EXPECT_EQ(got->canceled, 1);
  EXPECT_EQ(got->overdue, 2);         // a and c; not b (due today) nor d (done)
  EXPECT_EQ(got->unassigned, 1);      // a; d and e are closed
  EXPECT_EQ(got->urgent_or_high, 2);  // a and c; not e (canceled)
  EXPECT_EQ(got->recent_comments, 2);
  std::vector<std::string> recent;
  for (const RecentTask& t : got->recent) recent.push_back(t.id);
  EXPECT_EQ(recent, (std::vector<std::string>{"c", "d", "a"}));
  ASSERT_FALSE(got->recent.empty());
  EXPECT_EQ(got->recent.front().title, "Task c");
  EXPECT_EQ(got->recent.front().status, TaskStatus::kInProgress);
  EXPECT_EQ(got->recent.front().updated_at_ms, 7000);

  // A project of org A asked for through org B: not found.
  q.project_id = "p2";
  ASSERT_TRUE(RunSync(db_->Store().Transact(TransactionOptions().ReadOnly().Org(kOrgA),
                                            [&](SqlTransaction& tx) -> Awaitable<void> {
                                              got = co_await GetProjectSummary(tx, kOrgB, q);
                                              co_return Result<void>();
                                            })));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
}

// The database itself keeps the orgs apart: a transaction for org A that asks for org B's task
// and comment by id, without the org filter the store's queries carry, sees nothing, cannot
// change them, and cannot write a row of org B.
TEST_P(WorkStoreTest, TheDatabaseRefusesCrossOrgAccess) {
  if (!db_->IsPostgres()) {
    GTEST_SKIP() << "SQLite has no row-level security: org scoping is the queries' job there "
                    "(the other cases)";
  }
  Insert(MakeProject(kOrgB, "pb", 1000));
  Insert(MakeTask(kOrgB, "pb", "tb", 1000));
  Comment c;
  c.org_id = kOrgB;
  c.id = "cb";
  c.task_id = "tb";
  c.author_id = "user-1";
  c.body = "secret";
  Insert(c);
  std::size_t tasks = 99, comments = 99;
  std::int64_t changed = 99;
  ASSERT_TRUE(Tx(kOrgA, [&](SqlTransaction& tx) -> Awaitable<void> {
    platform::ports::SqlParams by_task{std::string("tb")};
    auto t = co_await tx.Execute("SELECT org_id, title FROM tasks WHERE id = $1", by_task);
    if (!t) co_return std::unexpected(t.error());
    tasks = t->rows.size();
    platform::ports::SqlParams by_comment{std::string("cb")};
    auto k = co_await tx.Execute("SELECT body FROM comments WHERE id = $1", by_comment);
    if (!k) co_return std::unexpected(k.error());
    comments = k->rows.size();
    platform::ports::SqlParams rename{std::string("stolen"), std::string("tb")};
    auto u = co_await tx.Execute("UPDATE tasks SET title = $1 WHERE id = $2", rename);
    if (!u) co_return std::unexpected(u.error());
    changed = u->rows_affected;
    co_return Result<void>();
  }));
  EXPECT_EQ(tasks, 0u);
  EXPECT_EQ(comments, 0u);
  EXPECT_EQ(changed, 0);
  Project foreign = MakeProject(kOrgB, "px", 2000);
  EXPECT_FALSE(Tx(kOrgA, [&](SqlTransaction& tx) { return InsertProject(tx, foreign); }))
      << "a project of org B written by a transaction of org A";
  // The superuser sees B's rows as they were.
  EXPECT_EQ(db_->Psql("SELECT title FROM tasks WHERE id = 'tb'"), "Task tb");
  EXPECT_EQ(db_->Psql("SELECT string_agg(id, ',' ORDER BY id) FROM projects"), "pb");
}

INSTANTIATE_TEST_SUITE_P(, WorkStoreTest, tests::support::AllSqlEngines(),
                         tests::support::SqlEngineName);

TEST(WorkFtsQueryTest, QuotesEveryWordAndPrefixesTheLast) {
  EXPECT_EQ(FtsQuery("login page"), "\"login\" \"page\"*");
  EXPECT_EQ(FtsQuery("  \"a\" OR b*  "), "\"a\" \"OR\" \"b\"*");
  EXPECT_EQ(FtsQuery("caf\xC3\xA9"), "\"caf\xC3\xA9\"*");
  EXPECT_EQ(FtsQuery("-- ()"), "");
}

TEST(WorkTsQueryTest, SameWordsAsFtsQueryForPostgres) {
  EXPECT_EQ(TsQuery("login page"), "'login' & 'page':*");
  EXPECT_EQ(TsQuery("  \"a\" OR b*  "), "'a' & 'OR' & 'b':*");
  EXPECT_EQ(TsQuery("caf\xC3\xA9"), "'caf\xC3\xA9':*");
  EXPECT_EQ(TsQuery("fix_the bug"), "'fix' <-> 'the' & 'bug':*");
  EXPECT_EQ(TsQuery("it's x__"), "'it' & 's' & 'x':*");
  EXPECT_EQ(TsQuery("foo __"), "'foo':*");
  EXPECT_EQ(TsQuery("-- () ___"), "");
}

}  // namespace
}  // namespace trellis::work::store
