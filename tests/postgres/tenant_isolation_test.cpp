// Tenant isolation under load, with failures: 10,000 interleaved requests from two orgs through
// the real use cases (work::app::WorkApp over a PgStore as trellis_work, pool of 2 connections,
// 64 requests in flight on one io_context thread), with transactions failing half way: (a) a
// body that writes and then fails, (b) the backend of the connection terminated by the
// superuser (pg_terminate_backend) while the transaction is open, (c) a statement cancelled by
// its deadline. Checked: no response for org A ever holds a row of org B (and vice versa); at
// the end, as the superuser, every task and comment by A's actor carries org A (B's org B), no
// failed transaction left a row, every successful mutation left exactly its rows and its
// outbox event, and the pool still serves.
//
//   ctest --test-dir build/dev -R tenant_isolation_test     (prints the counts)
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "adapters/postgres/pg_store.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/principal.hpp"
#include "platform/core/role.hpp"
#include "services/work/app/work_app.hpp"
#include "services/work/store/work_store.hpp"
#include "tests/support/fake_identity.hpp"
#include "tests/support/sql_engines.hpp"

namespace trellis::tests {
namespace {

namespace asio = boost::asio;
namespace core = platform::core;
namespace ports = platform::ports;
namespace domain = work::domain;
using namespace std::chrono_literals;
using support::PostgresCluster;
using support::PostgresDatabase;
using support::SqlContext;

constexpr int kRequests = 10'000;
constexpr int kInFlight = 64;
constexpr std::size_t kPoolSize = 2;
// Every n-th request is a failure of each kind instead of a use case.
constexpr int kRollbackEvery = 97;
constexpr int kTerminateEvery = 101;
constexpr int kDeadlineEvery = 211;
// The deadline of an injected slow statement: long enough to get a connection from the pool
// (queued behind up to 63 requests) and start, far shorter than the 5 s sleep it interrupts.
constexpr auto kInjectedDeadline = 300ms;

// Deterministic mixing of the request number (splitmix64): the same run every time.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

struct Org {
  std::string id;
  std::string actor;
  std::string project;
  std::vector<std::string> tasks;  // created and committed, in order
  std::set<std::string> task_set;
  std::int64_t mutations = 0;  // successful use-case writes (one outbox event each)
  std::int64_t comments = 0;
};

struct Counts {
  std::int64_t requests = 0;
  std::map<std::string, std::int64_t> ops;
  std::int64_t rollback = 0;
  std::int64_t terminated = 0;
  std::int64_t deadline = 0;
  std::int64_t deadline_mid_statement = 0;
  std::int64_t deadline_wrong_code = 0;   // failed, but not with kDeadlineExceeded
  std::int64_t injected_not_failing = 0;  // an injected failure whose transaction committed
  std::int64_t update_conflicts = 0;      // see Request()
  std::int64_t unexpected_errors = 0;
  std::int64_t leaks = 0;  // a row of the other org in a response
  std::vector<std::string> first_problems;
};

class TenantIsolationTest : public ::testing::Test {
 protected:
  TenantIsolationTest()
      : exec_(ctx_.get_executor()),
        store_(db_.Open("trellis_work", SqlContext::kWork, kPoolSize, &exec_)),
        superuser_(db_.OpenWith(PostgresCluster::kSuperuser,
                                PostgresDatabase::Cluster().SuperuserPassword(), SqlContext::kWork,
                                1, &exec_)),
        ids_(clock_),
        app_(*store_, identity_, clock_, ids_, {}) {
    orgs_[0].id = "org-a";
    orgs_[0].actor = "user-a";
    orgs_[1].id = "org-b";
    orgs_[1].actor = "user-b";
    for (const Org& o : orgs_) identity_.Set(o.id, o.actor, core::Role::kAdmin);
    db_.Migrate(SqlContext::kWork);  // the stores connect on first use, after this
  }

  core::Principal Who(const Org& org) const {
    core::Principal who;
    who.user_id = org.actor;
    return who;
  }

  void Problem(const std::string& what) {
    if (counts_.first_problems.size() < 10) counts_.first_problems.push_back(what);
  }
  void Unexpected(const std::string& op, const core::Error& e) {
    ++counts_.unexpected_errors;
    Problem(op + ": " + e.message + " / " + e.internal);
  }
  // A row of `org` seen in a response for `org`: its org and, when known, that its id is not
  // the other org's.
  void CheckTask(const Org& org, const Org& other, const domain::Task& t, const char* op) {
    if (t.org_id != org.id || other.task_set.contains(t.id) || t.project_id != org.project) {
      ++counts_.leaks;
      Problem(std::string(op) + ": " + org.id + " saw task " + t.id + " of " + t.org_id);
    }
  }

  // One use case or one injected failure, by request number.
  asio::awaitable<void> Request(int n) {
    const std::uint64_t r = Mix(static_cast<std::uint64_t>(n));
    Org& org = orgs_[r & 1U];
    Org& other = orgs_[1U - (r & 1U)];
    ++counts_.requests;
    if (n % kRollbackEvery == 0) co_return co_await InjectRollback(org, n);
    if (n % kTerminateEvery == 0) co_return co_await InjectTerminate(org, n);
    if (n % kDeadlineEvery == 0) co_return co_await InjectDeadline(org, n);

    const core::Principal who = Who(org);
    core::CallContext call;
    const std::uint64_t pick = (r >> 8U) % 100;
    if (pick < 30 || org.tasks.empty()) {
      ++counts_.ops["create"];
      work::app::CreateTaskInput in;
      in.org_id = org.id;
      in.project_id = org.project;
      in.title = org.id + " task " + std::to_string(n);
      in.labels = {"l" + std::to_string(n % 3)};
      auto t = co_await app_.CreateTask(who, call, std::move(in));
      if (!t) co_return Unexpected("create", t.error());
      CheckTask(org, other, *t, "create");
      org.tasks.push_back(t->id);
      org.task_set.insert(t->id);
      ++org.mutations;
    } else if (pick < 55) {
      ++counts_.ops["list"];
      work::app::ListTasksInput in;
      in.org_id = org.id;
      in.query.project_id = org.project;
      in.query.limit = 20;
      auto page = co_await app_.ListTasks(who, call, std::move(in));
      if (!page) co_return Unexpected("list", page.error());
      for (const domain::Task& t : page->items) CheckTask(org, other, t, "list");
    } else if (pick < 75) {
      ++counts_.ops["get"];
      const std::string id = org.tasks[(r >> 16U) % org.tasks.size()];
      auto t = co_await app_.GetTask(who, call, org.id, id);
      if (!t) co_return Unexpected("get", t.error());
      CheckTask(org, other, *t, "get");
    } else if (pick < 90) {
      ++counts_.ops["update"];
      work::app::UpdateTaskInput in;
      in.org_id = org.id;
      in.task_id = org.tasks[(r >> 16U) % org.tasks.size()];
      in.expected.any = true;
      in.title = org.id + " task updated by " + std::to_string(n);
      auto t = co_await app_.UpdateTask(who, call, std::move(in));
      if (!t && t.error().code == core::ErrorCode::kFailedPrecondition) {
        // Two updates of one task at once: on PostgreSQL (READ COMMITTED) the second one's
        // versioned UPDATE finds the row changed since it read it, even with If-Match: *.
        // A conflict, not a leak; nothing was written.
        ++counts_.update_conflicts;
        co_return;
      }
      if (!t) co_return Unexpected("update", t.error());
      CheckTask(org, other, *t, "update");
      ++org.mutations;
    } else {
      ++counts_.ops["comment"];
      work::app::CreateCommentInput in;
      in.org_id = org.id;
      in.task_id = org.tasks[(r >> 16U) % org.tasks.size()];
      in.body = org.id + " comment " + std::to_string(n);
      auto c = co_await app_.CreateComment(who, call, std::move(in));
      if (!c) co_return Unexpected("comment", c.error());
      if (c->org_id != org.id || !org.task_set.contains(c->task_id)) {
        ++counts_.leaks;
        Problem("comment: " + org.id + " got comment " + c->id + " of " + c->org_id);
      }
      ++org.mutations;
      ++org.comments;
    }
  }

  // A task (with a label) and a comment on it, written by the org's actor and marked "doomed":
  // what a failed transaction must not leave behind.
  static asio::awaitable<core::Result<void>> WriteDoomed(ports::SqlTransaction& tx, const Org& org,
                                                         const std::string& id) {
    domain::Task t;
    t.org_id = org.id;
    t.id = id;
    t.project_id = org.project;
    t.title = "doomed " + id;
    t.created_by = org.actor;
    t.labels = {"doomed"};
    if (auto w = co_await work::store::InsertTask(tx, t); !w) co_return w;
    domain::Comment c;
    c.org_id = org.id;
    c.id = id + "-comment";
    c.task_id = id;
    c.author_id = org.actor;
    c.body = "doomed";
    co_return co_await work::store::InsertComment(tx, c);
  }

  void ExpectFailed(const core::Result<void>& done, const char* kind, int n) {
    if (done.has_value()) {
      ++counts_.injected_not_failing;
      Problem(std::string(kind) + " #" + std::to_string(n) + " committed");
    }
  }

  // (a) The body writes, then fails: Transact rolls back.
  asio::awaitable<void> InjectRollback(Org& org, int n) {
    ++counts_.rollback;
    const std::string id = "doomed-rollback-" + std::to_string(n);
    ports::TransactionBody body = [&org, id](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
      if (auto w = co_await WriteDoomed(tx, org, id); !w) co_return w;
      co_return core::Fail(core::ErrorCode::kInternal, "injected failure");
    };
    auto done = co_await store_->Transact(ports::TransactionOptions().Org(org.id), body);
    ExpectFailed(done, "rollback", n);
  }

  // (b) The body writes, then the superuser terminates its backend (and waits until it is
  // gone); the next statement finds the connection dead.
  asio::awaitable<void> InjectTerminate(Org& org, int n) {
    ++counts_.terminated;
    const std::string id = "doomed-terminated-" + std::to_string(n);
    ports::TransactionBody body = [this, &org,
                                   id](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
      if (auto w = co_await WriteDoomed(tx, org, id); !w) co_return w;
      auto pid = co_await tx.Execute("SELECT pg_backend_pid()::bigint AS pid");
      if (!pid) co_return std::unexpected(pid.error());
      ports::SqlParams victim{*pid->rows.at(0).Get<std::int64_t>("pid")};
      ports::TransactionBody kill = [victim](ports::SqlTransaction& su) -> ports::Awaitable<void> {
        auto killed =
            co_await su.Execute("SELECT pg_terminate_backend($1::int, 5000) AS killed", victim);
        co_return ports::Void(killed);
      };
      auto killed = co_await superuser_->Transact(ports::TransactionOptions(), std::move(kill));
      if (!killed) Unexpected("pg_terminate_backend", killed.error());
      auto after = co_await tx.Execute("SELECT 1 AS one");
      co_return ports::Void(after);
    };
    auto done = co_await store_->Transact(ports::TransactionOptions().Org(org.id), body);
    ExpectFailed(done, "terminate", n);
  }

  // (c) The body writes, then a statement runs past the transaction's deadline and is
  // cancelled.
  asio::awaitable<void> InjectDeadline(Org& org, int n) {
    ++counts_.deadline;
    const std::string id = "doomed-deadline-" + std::to_string(n);
    ports::TransactionBody body = [this, &org,
                                   id](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
      if (auto w = co_await WriteDoomed(tx, org, id); !w) co_return w;
      ++counts_.deadline_mid_statement;
      auto slept = co_await tx.Execute("SELECT pg_sleep(5)");
      co_return ports::Void(slept);
    };
    auto done = co_await store_->Transact(
        ports::TransactionOptions().Org(org.id).Deadline(clock_.Monotonic() + kInjectedDeadline),
        body);
    ExpectFailed(done, "deadline", n);
    if (!done && done.error().code != core::ErrorCode::kDeadlineExceeded) {
      ++counts_.deadline_wrong_code;
      Problem("deadline #" + std::to_string(n) + ": " + done.error().message);
    }
  }

  asio::awaitable<void> Worker(int* next) {
    for (int n = (*next)++; n < kRequests; n = (*next)++) co_await Request(n);
  }

  asio::awaitable<void> CreateProjects() {
    for (Org& org : orgs_) {
      work::app::CreateProjectInput in;
      in.org_id = org.id;
      in.name = "Project of " + org.id;
      // Named, not braced: g++ 12 and temporaries in a co_await expression (ADR 0004).
      const core::Principal who = Who(org);
      core::CallContext call;
      auto p = co_await app_.CreateProject(who, call, std::move(in));
      if (!p) {
        Unexpected("create project", p.error());
        co_return;
      }
      org.project = p->id;
      ++org.mutations;
    }
  }

  std::string Sql(const std::string& sql) { return db_.Psql("SET search_path TO work;\n" + sql); }

  asio::io_context ctx_;
  asio::any_io_executor exec_;
  PostgresDatabase db_;
  std::unique_ptr<adapters::postgres::PgStore> store_;
  std::unique_ptr<adapters::postgres::PgStore> superuser_;
  core::SystemClock clock_;
  core::UuidV7Generator ids_;
  support::FakeIdentity identity_;
  work::app::WorkApp app_;
  Org orgs_[2];
  Counts counts_;
};

TEST_F(TenantIsolationTest, InterleavedRequestsOfTwoOrgsNeverSeeEachOthersRowsDespiteFailures) {
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(ctx_, CreateProjects(), asio::detached);
  ctx_.run();
  ASSERT_EQ(counts_.unexpected_errors, 0) << counts_.first_problems.front();
  ctx_.restart();
  int next = 0;
  for (int i = 0; i < kInFlight; ++i) {
    asio::co_spawn(ctx_, Worker(&next), [](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
    });
  }
  ctx_.run();
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::printf(
      "tenant_isolation_test: %lld requests in %.1f s (%d in flight, pool of %zu): create %lld, "
      "list %lld, get %lld, update %lld, comment %lld; injected failures: rollback %lld, "
      "terminated backend %lld, deadline %lld (%lld cancelled mid-statement); update "
      "conflicts %lld, unexpected errors %lld, leaks %lld\n",
      static_cast<long long>(counts_.requests), seconds, kInFlight, kPoolSize,
      static_cast<long long>(counts_.ops["create"]), static_cast<long long>(counts_.ops["list"]),
      static_cast<long long>(counts_.ops["get"]), static_cast<long long>(counts_.ops["update"]),
      static_cast<long long>(counts_.ops["comment"]), static_cast<long long>(counts_.rollback),
      static_cast<long long>(counts_.terminated), static_cast<long long>(counts_.deadline),
      static_cast<long long>(counts_.deadline_mid_statement),
      static_cast<long long>(counts_.update_conflicts),
      static_cast<long long>(counts_.unexpected_errors), static_cast<long long>(counts_.leaks));
  for (const std::string& p : counts_.first_problems) std::printf("  problem: %s\n", p.c_str());

  EXPECT_EQ(counts_.requests, kRequests);
  EXPECT_GT(counts_.rollback, 0);
  EXPECT_GT(counts_.terminated, 0);
  EXPECT_GT(counts_.deadline_mid_statement, 0);
  EXPECT_EQ(counts_.leaks, 0);
  EXPECT_EQ(counts_.injected_not_failing, 0);
  EXPECT_EQ(counts_.deadline_wrong_code, 0);
  EXPECT_EQ(counts_.unexpected_errors, 0);

  // As the superuser, through row-level security: every row by an org's actor is in that org.
  for (int i = 0; i < 2; ++i) {
    const Org& org = orgs_[i];
    const std::string q = "'" + org.id + "'";
    const std::string actor = "'" + org.actor + "'";
    EXPECT_EQ(Sql("SELECT count(*) FROM tasks WHERE created_by = " + actor + " AND org_id <> " + q),
              "0");
    EXPECT_EQ(
        Sql("SELECT count(*) FROM comments WHERE author_id = " + actor + " AND org_id <> " + q),
        "0");
    EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE actor_id = " + actor + " AND org_id <> " + q),
              "0");
    // Exactly what the successful requests wrote: their tasks, comments and one event each.
    EXPECT_EQ(Sql("SELECT count(*) FROM tasks WHERE org_id = " + q),
              std::to_string(org.tasks.size()));
    EXPECT_EQ(Sql("SELECT count(*) FROM comments WHERE org_id = " + q),
              std::to_string(org.comments));
    EXPECT_EQ(Sql("SELECT count(*) FROM outbox WHERE org_id = " + q),
              std::to_string(org.mutations));
  }
  // No failed transaction left anything: no doomed task, label or comment.
  EXPECT_EQ(Sql("SELECT (SELECT count(*) FROM tasks WHERE id LIKE 'doomed-%') + "
                "(SELECT count(*) FROM task_labels WHERE label = 'doomed') + "
                "(SELECT count(*) FROM comments WHERE body = 'doomed')"),
            "0");

  // The pool is healthy: a final transaction succeeds, and nothing is left in use.
  ctx_.restart();
  core::Result<void> last = core::Fail(core::ErrorCode::kInternal, "did not run");
  std::int64_t visible = -1;
  asio::co_spawn(
      ctx_,
      [&]() -> asio::awaitable<void> {
        ports::TransactionBody body = [&](ports::SqlTransaction& tx) -> ports::Awaitable<void> {
          auto r = co_await tx.Execute("SELECT count(*) AS n FROM tasks");
          if (!r) co_return std::unexpected(r.error());
          visible = *r->rows.at(0).Get<std::int64_t>("n");
          co_return core::Result<void>();
        };
        last = co_await store_->Transact(ports::TransactionOptions().ReadOnly().Org("org-a"),
                                         std::move(body));
      },
      asio::detached);
  ctx_.run();
  ASSERT_TRUE(last.has_value()) << last.error().internal;
  EXPECT_EQ(visible, static_cast<std::int64_t>(orgs_[0].tasks.size()));
  const adapters::postgres::PgHealth health = store_->Health();
  EXPECT_TRUE(health.ok) << health.detail;
  EXPECT_EQ(health.in_use, 0u);
  EXPECT_EQ(health.waiting, 0u);
  EXPECT_LE(health.connections, kPoolSize);
}

}  // namespace
}  // namespace trellis::tests
