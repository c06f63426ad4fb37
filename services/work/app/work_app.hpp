// The work context's use cases: one coroutine per endpoint, whatever the transport.
//
// Each resolves the caller's role in the org (identity's GetMembership through IdentityClient,
// or an API key's own org and role; any other org is kNotFound), checks the permission table
// (domain/work_permissions.hpp: kPermissionDenied for a member without the right), runs one
// transaction scoped to the org, and for a mutation appends its domain event to the outbox in
// that transaction, then calls on_commit (the relay's Notify) after the commit.
//
//   WorkApp app(store, identity, clock, ids, [&relay] { relay.Notify(); });
//   CreateTaskInput in; in.org_id = org; in.project_id = p; in.title = "Ship it";
//   auto task = co_await app.CreateTask(principal, call, std::move(in));
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/cache/cache_aside.hpp"
#include "platform/cache/invalidator.hpp"
#include "platform/core/call_context.hpp"
#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/core/principal.hpp"
#include "platform/ports/sql_store.hpp"
#include "proto/trellis/identity/v1/identity_client.hpp"
#include "services/work/app/work_cache.hpp"
#include "services/work/domain/work_model.hpp"
#include "services/work/store/work_store.hpp"

namespace trellis::work::app {

using platform::ports::Awaitable;

// The versions a client expects an update or delete to find (If-Match). A mismatch is
// kFailedPrecondition (412) "the resource has changed".
struct Expected {
  bool any = false;  // If-Match: *
  std::vector<std::int64_t> versions;
  [[nodiscard]] bool Matches(std::int64_t version) const;
};

// A page of a list and, when more follow, the keyset position after its last item.
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<store::Position> next;
};

// A PATCH field that may be cleared: absent, null (clear) or a value.
template <typename T>
using Clearable = std::optional<std::optional<T>>;

struct CreateProjectInput {
  std::string org_id;
  std::string name;
  std::string description;
};

struct ListProjectsInput {
  std::string org_id;
  store::ProjectQuery query;  // query.limit is the page size
};

struct UpdateProjectInput {
  std::string org_id;
  std::string project_id;
  Expected expected;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<bool> archived;  // changing it needs kArchiveProject
};

struct CreateTaskInput {
  std::string org_id;
  std::string project_id;
  std::string title;
  std::string description;
  domain::TaskStatus status = domain::TaskStatus::kTodo;
  std::int64_t priority = domain::kPriorityNone;
  std::optional<std::string> assignee_id;
  std::optional<std::string> due_date;
  std::vector<std::string> labels;
};

struct ListTasksInput {
  std::string org_id;
  store::TaskQuery query;  // query.limit is the page size
};

struct UpdateTaskInput {
  std::string org_id;
  std::string task_id;
  Expected expected;
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<domain::TaskStatus> status;
  std::optional<std::int64_t> priority;
  Clearable<std::string> assignee_id;
  Clearable<std::string> due_date;
  std::optional<std::vector<std::string>> labels;
};

struct DeleteTaskInput {
  std::string org_id;
  std::string task_id;
  Expected expected;
};

struct CreateCommentInput {
  std::string org_id;
  std::string task_id;
  std::string body;
};

struct ListCommentsInput {
  std::string org_id;
  store::CommentQuery query;  // query.limit is the page size
};

struct UpdateCommentInput {
  std::string org_id;
  std::string task_id;
  std::string comment_id;
  Expected expected;
  std::string body;
};

struct DeleteCommentInput {
  std::string org_id;
  std::string task_id;
  std::string comment_id;
  Expected expected;
};

// The shared cache and what invalidates it (composition root); both null: no caching.
struct WorkCaching {
  platform::cache::CacheAside* cache = nullptr;
  platform::cache::CacheInvalidator* invalidator = nullptr;
};

class WorkApp {
 public:
  // Every reference must outlive the app. on_commit may be empty. Without caching every read
  // goes to the database.
  WorkApp(platform::ports::SqlStore& store, identity::v1::IdentityClient& identity,
          const platform::core::Clock& clock, platform::core::IdGenerator& ids,
          std::function<void()> on_commit, WorkCaching caching = {});

  // Projects.
  [[nodiscard]] Awaitable<domain::Project> CreateProject(const platform::core::Principal& who,
                                                         platform::core::CallContext call,
                                                         CreateProjectInput input);
  [[nodiscard]] Awaitable<Page<domain::Project>> ListProjects(const platform::core::Principal& who,
                                                              platform::core::CallContext call,
                                                              ListProjectsInput input);
  [[nodiscard]] Awaitable<domain::Project> GetProject(const platform::core::Principal& who,
                                                      platform::core::CallContext call,
                                                      std::string org_id, std::string project_id);
  // Archiving is PATCH {"archived": true}: event work.project.archived.
  [[nodiscard]] Awaitable<domain::Project> UpdateProject(const platform::core::Principal& who,
                                                         platform::core::CallContext call,
                                                         UpdateProjectInput input);

  // Tasks. An assignee must be an active member of the org (else 422 at /assignee_id); an
  // archived project's tasks are read-only (409).
  [[nodiscard]] Awaitable<domain::Task> CreateTask(const platform::core::Principal& who,
                                                   platform::core::CallContext call,
                                                   CreateTaskInput input);
  // One read-only transaction: one query for the page, one for its labels (and one for the
  // project only when the page is empty, to tell "no tasks" from "no such project").
  [[nodiscard]] Awaitable<Page<domain::Task>> ListTasks(const platform::core::Principal& who,
                                                        platform::core::CallContext call,
                                                        ListTasksInput input);
  // ListTasks with the page already rendered (TaskJson per item), from the shared cache when
  // warm (work_cache.hpp; ADR 0019): the caller's membership and the page are read in one
  // round trip. Authorization runs on every call; every committed work mutation in the org
  // invalidates the org's entries before it returns.
  [[nodiscard]] Awaitable<RenderedTaskPage> ListTaskPage(const platform::core::Principal& who,
                                                         platform::core::CallContext call,
                                                         ListTasksInput input);
  [[nodiscard]] Awaitable<domain::Task> GetTask(const platform::core::Principal& who,
                                                platform::core::CallContext call,
                                                std::string org_id, std::string task_id);
  [[nodiscard]] Awaitable<domain::Task> UpdateTask(const platform::core::Principal& who,
                                                   platform::core::CallContext call,
                                                   UpdateTaskInput input);
  [[nodiscard]] Awaitable<void> DeleteTask(const platform::core::Principal& who,
                                           platform::core::CallContext call, DeleteTaskInput input);

  // The project board's header (store::ProjectSummary): ten queries in one read-only
  // transaction, sent as one batch. Viewer and up; another org's project is kNotFound.
  // "Overdue" is against today's UTC date and "recent comments" covers the last 7 days, both
  // by the app's clock.
  [[nodiscard]] Awaitable<store::ProjectSummary> GetProjectSummary(
      const platform::core::Principal& who, platform::core::CallContext call, std::string org_id,
      std::string project_id);

  // Comments.
  [[nodiscard]] Awaitable<domain::Comment> CreateComment(const platform::core::Principal& who,
                                                         platform::core::CallContext call,
                                                         CreateCommentInput input);
  [[nodiscard]] Awaitable<Page<domain::Comment>> ListComments(const platform::core::Principal& who,
                                                              platform::core::CallContext call,
                                                              ListCommentsInput input);
  [[nodiscard]] Awaitable<domain::Comment> UpdateComment(const platform::core::Principal& who,
                                                         platform::core::CallContext call,
                                                         UpdateCommentInput input);
  [[nodiscard]] Awaitable<void> DeleteComment(const platform::core::Principal& who,
                                              platform::core::CallContext call,
                                              DeleteCommentInput input);

  // The caller's role in the org: kNotFound when it is not an active member (or an API key of
  // another org), kUnauthenticated without a user.
  [[nodiscard]] Awaitable<platform::core::Role> ResolveRole(const platform::core::Principal& who,
                                                            const platform::core::CallContext& call,
                                                            const std::string& org_id);

 private:
  [[nodiscard]] std::int64_t NowMs() const;
  // kValidation at /assignee_id unless the user is an active member of the org.
  [[nodiscard]] Awaitable<void> CheckAssignee(const platform::core::CallContext& call,
                                              const std::string& org_id,
                                              const std::string& user_id);
  [[nodiscard]] Awaitable<void> Append(platform::ports::SqlTransaction& tx,
                                       const platform::core::Principal& who,
                                       const std::string& org_id, std::string type,
                                       const std::string& subject_id, std::string payload,
                                       std::int64_t now_ms);
  // The page and its next position, read in one read-only transaction; no authorization.
  [[nodiscard]] Awaitable<Page<domain::Task>> ReadTasks(const platform::core::CallContext& call,
                                                        const std::string& org_id,
                                                        store::TaskQuery query);
  // After a commit: calls on_commit, then invalidates what the event of `event_type` changes.
  [[nodiscard]] boost::asio::awaitable<void> Committed(const std::string& org_id,
                                                       std::string event_type,
                                                       platform::core::Clock::MonoTime deadline);
  [[nodiscard]] Awaitable<domain::Project> ReadProject(const platform::core::CallContext& call,
                                                       const std::string& org_id,
                                                       const std::string& project_id);
  // The caller's role in the org and the cache slot of `entry`, from one cache round trip.
  struct CachedRead {
    platform::core::Result<platform::core::Role> role =
        platform::core::Fail(platform::core::ErrorCode::kInternal, "not read");
    platform::cache::CacheRef ref;
    platform::cache::CacheSlot slot;
  };
  [[nodiscard]] boost::asio::awaitable<CachedRead> ReadCached(
      const platform::core::Principal& who, const platform::core::CallContext& call,
      const std::string& org_id, platform::cache::CacheRef entry);

  platform::ports::SqlStore& store_;
  identity::v1::IdentityClient& identity_;
  const platform::core::Clock& clock_;
  platform::core::IdGenerator& ids_;
  std::function<void()> on_commit_;
  const WorkCaching caching_;
};

}  // namespace trellis::work::app
