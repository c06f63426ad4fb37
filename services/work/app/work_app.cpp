#include "services/work/app/work_app.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "platform/events/outbox.hpp"
#include "proto/trellis/identity/v1/membership_cache.hpp"
#include "services/work/app/work_json.hpp"
#include "services/work/domain/work_permissions.hpp"
#include "services/work/domain/work_rules.hpp"

namespace trellis::work::app {

namespace asio = boost::asio;
namespace core = platform::core;
using core::ErrorCode;
using core::Result;
using domain::Action;
using domain::Comment;
using domain::Project;
using domain::Task;
using platform::ports::SqlTransaction;
using platform::ports::TransactionOptions;

namespace {

core::Error Changed() {
  return core::Error(ErrorCode::kFailedPrecondition, "the resource has changed");
}

Result<void> CheckExpected(const Expected& expected, std::int64_t version) {
  if (expected.Matches(version)) return {};
  return std::unexpected(Changed());
}

TransactionOptions Options(const std::string& org_id, const core::CallContext& call,
                           bool read_only) {
  return TransactionOptions()
      .Org(org_id)
      .Deadline(call.deadline)
      .ReadOnly(read_only)
      // Writes check versions, statuses and parents before they write.
      .Serializable(!read_only)
      .Consistency(call.written);
}

// Fetches one extra row to learn whether another page follows.
template <typename T, typename KeyFn>
Page<T> MakePage(std::vector<T> rows, int limit, KeyFn key) {
  Page<T> page;
  if (limit > 0 && rows.size() > static_cast<std::size_t>(limit)) {
    rows.resize(static_cast<std::size_t>(limit));
    page.next = store::Position{key(rows.back()), rows.back().id};
  }
  page.items = std::move(rows);
  return page;
}

// What fills the shared cache is read from the primary: a replica may not have replayed a
// write whose invalidation has already happened, and would put the old value back.
core::CallContext FromPrimary(const core::CallContext& call) {
  core::CallContext out = call;
  out.written.reset();
  return out;
}

RenderedTaskPage Render(const Page<Task>& page) {
  RenderedTaskPage out;
  std::size_t size = 0;
  std::vector<std::string> items;
  items.reserve(page.items.size());
  for (const auto& t : page.items) {
    items.push_back(TaskJson(t));
    size += items.back().size() + 1;
  }
  out.items.reserve(size);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out.items += ',';
    out.items += items[i];
  }
  out.next = page.next;
  return out;
}

// The project summary's windows.
constexpr std::int64_t kSummaryCommentWindowMs = std::int64_t{7} * 24 * 60 * 60 * 1000;
constexpr int kSummaryRecentTasks = 5;

// YYYY-MM-DD of a wall time, in UTC.
std::string UtcDate(core::Clock::WallTime at) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(at)};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text;
}

}  // namespace

bool Expected::Matches(std::int64_t version) const {
  return any || std::find(versions.begin(), versions.end(), version) != versions.end();
}

WorkApp::WorkApp(platform::ports::SqlStore& store, identity::v1::IdentityClient& identity,
                 const core::Clock& clock, core::IdGenerator& ids, std::function<void()> on_commit,
                 WorkCaching caching)
    : store_(store),
      identity_(identity),
      clock_(clock),
      ids_(ids),
      on_commit_(std::move(on_commit)),
      caching_(caching) {}

std::int64_t WorkApp::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

asio::awaitable<void> WorkApp::Committed(const std::string& org_id, std::string event_type,
                                         core::Clock::MonoTime deadline) {
  if (on_commit_) on_commit_();
  // Before the use case returns, so that the caller's next read sees its own write; the
  // event-log consumer "cache" invalidates again should this fail.
  if (caching_.invalidator) {
    std::string org = org_id;
    co_await caching_.invalidator->Committed(std::move(event_type), std::move(org), deadline);
  }
}

Awaitable<core::Role> WorkApp::ResolveRole(const core::Principal& who,
                                           const core::CallContext& call,
                                           const std::string& org_id) {
  co_return co_await identity::v1::CachedRoleIn(caching_.cache, identity_, who, org_id, call);
}

Awaitable<void> WorkApp::CheckAssignee(const core::CallContext& call, const std::string& org_id,
                                       const std::string& user_id) {
  identity::v1::GetMembershipRequest request;
  request.set_org_id(org_id);
  request.set_user_id(user_id);
  auto membership = co_await identity_.GetMembership(std::move(request), call);
  if (membership) co_return Result<void>();
  if (membership.error().code != ErrorCode::kNotFound) {
    co_return std::unexpected(membership.error());
  }
  domain::FieldErrors errors;
  errors.Add("/assignee_id", "must be an active member of the organization");
  co_return errors.Finish();
}

Awaitable<void> WorkApp::Append(SqlTransaction& tx, const core::Principal& who,
                                const std::string& org_id, std::string type,
                                const std::string& subject_id, std::string payload,
                                std::int64_t now_ms) {
  platform::events::DomainEvent event;
  event.id = ids_.Next();
  event.type = std::move(type);
  event.org_id = org_id;
  event.actor_id = who.ActorId();
  event.subject_id = subject_id;
  event.payload = std::move(payload);
  event.occurred_at_ms = now_ms;
  event.audience = core::Role::kViewer;  // work items are for every member
  co_return co_await platform::events::AppendToOutbox(tx, event);
}

// --- projects ---------------------------------------------------------------------------

Awaitable<Project> WorkApp::CreateProject(const core::Principal& who, core::CallContext call,
                                          CreateProjectInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kCreateProject); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  Project p;
  p.org_id = input.org_id;
  p.id = ids_.Next();
  p.name = std::move(input.name);
  p.description = std::move(input.description);
  p.created_by = who.ActorId();
  p.created_at_ms = now;
  p.updated_at_ms = now;
  p.version = 1;
  domain::FieldErrors errors;
  domain::ValidateProject(p, errors);
  if (auto ok = errors.Finish(); !ok) co_return std::unexpected(ok.error());

  auto options = Options(p.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    if (auto r = co_await store::InsertProject(tx, p); !r) co_return r;
    co_return co_await Append(tx, who, p.org_id, "work.project.created", p.id, ProjectJson(p), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_await Committed(input.org_id, "work.project.created", call.deadline);
  co_return p;
}

Awaitable<Page<Project>> WorkApp::ListProjects(const core::Principal& who, core::CallContext call,
                                               ListProjectsInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kViewProject); !ok) {
    co_return std::unexpected(ok.error());
  }
  const int limit = input.query.limit;
  store::ProjectQuery query = input.query;
  query.limit = limit + 1;
  std::vector<Project> rows;
  auto options = Options(input.org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto r = co_await store::ListProjects(tx, input.org_id, query);
    if (!r) co_return std::unexpected(r.error());
    rows = std::move(*r);
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  const store::ProjectSort sort = query.sort;
  co_return MakePage(std::move(rows), limit,
                     [sort](const Project& p) { return store::SortKey(p, sort); });
}

Awaitable<Project> WorkApp::ReadProject(const core::CallContext& call, const std::string& org_id,
                                        const std::string& project_id) {
  Result<Project> out = core::Fail(ErrorCode::kInternal, "not read");
  auto options = Options(org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    out = co_await store::GetProject(tx, org_id, project_id);
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

asio::awaitable<WorkApp::CachedRead> WorkApp::ReadCached(const core::Principal& who,
                                                         const core::CallContext& call,
                                                         const std::string& org_id,
                                                         platform::cache::CacheRef entry) {
  CachedRead out;
  if (!caching_.cache) {
    out.role = co_await ResolveRole(who, call, org_id);
    co_return out;
  }
  // The caller's membership and the entry in one round trip.
  std::vector<platform::cache::CacheRef> refs;
  const bool member = !who.IsApiKey() && !who.user_id.empty();
  if (member) refs.push_back(identity::v1::MembershipRef(org_id, who.user_id));
  refs.push_back(std::move(entry));
  auto slots = co_await caching_.cache->Read(refs, call.deadline);
  std::optional<platform::cache::CacheSlot> member_slot;
  if (member) member_slot = std::move(slots.front());
  out.role = co_await identity::v1::CachedRoleIn(caching_.cache, identity_, who, org_id, call,
                                                 std::move(member_slot));
  out.ref = std::move(refs.back());
  out.slot = std::move(slots.back());
  co_return out;
}

Awaitable<Project> WorkApp::GetProject(const core::Principal& who, core::CallContext call,
                                       std::string org_id, std::string project_id) {
  auto read = co_await ReadCached(who, call, org_id, ProjectRef(org_id, project_id));
  if (!read.role) co_return std::unexpected(read.role.error());
  if (auto ok = domain::Authorize(*read.role, Action::kViewProject); !ok) {
    co_return std::unexpected(ok.error());
  }
  if (!caching_.cache) co_return co_await ReadProject(call, org_id, project_id);
  const core::CallContext primary = FromPrimary(call);
  platform::cache::CacheAside::Loader load = [this, primary, org_id,
                                              project_id]() -> Awaitable<std::string> {
    auto project = co_await ReadProject(primary, org_id, project_id);
    if (!project) co_return std::unexpected(project.error());
    co_return SerializeProject(*project);
  };
  auto text = co_await caching_.cache->Load(std::move(read.ref), std::move(read.slot),
                                            call.deadline, std::move(load));
  if (!text) co_return std::unexpected(text.error());
  if (auto project = ParseProject(*text)) co_return std::move(*project);
  co_return core::Fail(ErrorCode::kInternal, "unexpected cached value", "project entry");
}

Awaitable<Project> WorkApp::UpdateProject(const core::Principal& who, core::CallContext call,
                                          UpdateProjectInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kUpdateProject); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  Project after;
  bool changed = false;
  std::string event_type;
  auto options = Options(input.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto current = co_await store::GetProject(tx, input.org_id, input.project_id);
    if (!current) co_return std::unexpected(current.error());
    if (auto ok = CheckExpected(input.expected, current->version); !ok) co_return ok;
    after = *current;
    if (input.name) after.name = *input.name;
    if (input.description) after.description = *input.description;
    if (input.archived && *input.archived != current->archived) {
      if (auto ok = domain::Authorize(*role, Action::kArchiveProject); !ok) co_return ok;
      after.archived = *input.archived;
    }
    domain::FieldErrors errors;
    domain::ValidateProject(after, errors);
    if (auto ok = errors.Finish(); !ok) co_return ok;
    changed = after.name != current->name || after.description != current->description ||
              after.archived != current->archived;
    if (!changed) co_return Result<void>();
    after.version = current->version + 1;
    after.updated_at_ms = now;
    if (auto r = co_await store::UpdateProject(tx, after, current->version); !r) co_return r;
    const bool archived = after.archived && !current->archived;
    event_type = archived ? "work.project.archived" : "work.project.updated";
    co_return co_await Append(tx, who, after.org_id, event_type, after.id, ProjectJson(after), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  if (changed) co_await Committed(input.org_id, event_type, call.deadline);
  co_return after;
}

Awaitable<store::ProjectSummary> WorkApp::GetProjectSummary(const core::Principal& who,
                                                            core::CallContext call,
                                                            std::string org_id,
                                                            std::string project_id) {
  auto role = co_await ResolveRole(who, call, org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kViewProject); !ok) {
    co_return std::unexpected(ok.error());
  }
  store::SummaryQuery query;
  query.project_id = std::move(project_id);
  query.today = UtcDate(clock_.Now());
  query.comments_since_ms = NowMs() - kSummaryCommentWindowMs;
  query.recent = kSummaryRecentTasks;
  Result<store::ProjectSummary> out = core::Fail(ErrorCode::kInternal, "not read");
  auto options = Options(org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    out = co_await store::GetProjectSummary(tx, org_id, query);
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

// --- tasks ------------------------------------------------------------------------------

Awaitable<Task> WorkApp::CreateTask(const core::Principal& who, core::CallContext call,
                                    CreateTaskInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kCreateTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  Task t;
  t.org_id = input.org_id;
  t.id = ids_.Next();
  t.project_id = std::move(input.project_id);
  t.title = std::move(input.title);
  t.description = std::move(input.description);
  t.status = input.status;
  t.priority = input.priority;
  t.assignee_id = std::move(input.assignee_id);
  t.due_date = std::move(input.due_date);
  t.labels = domain::NormalizeLabels(std::move(input.labels));
  t.created_by = who.ActorId();
  t.created_at_ms = now;
  t.updated_at_ms = now;
  t.version = 1;
  domain::FieldErrors errors;
  domain::ValidateTask(t, errors);
  if (auto ok = errors.Finish(); !ok) co_return std::unexpected(ok.error());
  // Identity is asked before the transaction, so the writer is never held across a call.
  if (t.assignee_id) {
    if (auto ok = co_await CheckAssignee(call, t.org_id, *t.assignee_id); !ok) {
      co_return std::unexpected(ok.error());
    }
  }
  auto options = Options(t.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto project = co_await store::GetProject(tx, t.org_id, t.project_id);
    if (!project) co_return std::unexpected(project.error());
    if (auto ok = domain::CheckProjectWritable(*project); !ok) co_return ok;
    if (auto r = co_await store::InsertTask(tx, t); !r) co_return r;
    co_return co_await Append(tx, who, t.org_id, "work.task.created", t.id, TaskJson(t), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_await Committed(input.org_id, "work.task.created", call.deadline);
  co_return t;
}

Awaitable<Page<Task>> WorkApp::ListTasks(const core::Principal& who, core::CallContext call,
                                         ListTasksInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kViewTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  co_return co_await ReadTasks(call, input.org_id, std::move(input.query));
}

Awaitable<Page<Task>> WorkApp::ReadTasks(const core::CallContext& call, const std::string& org_id,
                                         store::TaskQuery query) {
  const int limit = query.limit;
  query.limit = limit + 1;
  std::vector<Task> rows;
  auto options = Options(org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto r = co_await store::ListTasks(tx, org_id, query);
    if (!r) co_return std::unexpected(r.error());
    rows = std::move(*r);
    if (rows.empty()) {
      // Only an empty page needs to tell "no tasks" from "no such project".
      auto project = co_await store::GetProject(tx, org_id, query.project_id);
      if (!project) co_return std::unexpected(project.error());
    }
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  const store::TaskSort sort = query.sort;
  co_return MakePage(std::move(rows), limit,
                     [sort](const Task& t) { return store::SortKey(t, sort); });
}

Awaitable<RenderedTaskPage> WorkApp::ListTaskPage(const core::Principal& who,
                                                  core::CallContext call, ListTasksInput input) {
  // Authorization runs on every request, before the page is looked at.
  auto read = co_await ReadCached(who, call, input.org_id, TaskPageRef(input.org_id, input.query));
  if (!read.role) co_return std::unexpected(read.role.error());
  if (auto ok = domain::Authorize(*read.role, Action::kViewTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  if (!caching_.cache) {
    auto page = co_await ReadTasks(call, input.org_id, std::move(input.query));
    if (!page) co_return std::unexpected(page.error());
    co_return Render(*page);
  }
  const core::CallContext primary = FromPrimary(call);
  platform::cache::CacheAside::Loader load = [this, primary, input]() -> Awaitable<std::string> {
    auto page = co_await ReadTasks(primary, input.org_id, input.query);
    if (!page) co_return std::unexpected(page.error());
    co_return Render(*page).Serialize();
  };
  auto text = co_await caching_.cache->Load(std::move(read.ref), std::move(read.slot),
                                            call.deadline, std::move(load));
  if (!text) co_return std::unexpected(text.error());
  if (auto page = RenderedTaskPage::Parse(std::move(*text))) co_return std::move(*page);
  co_return core::Fail(ErrorCode::kInternal, "unexpected cached value", "task page entry");
}

Awaitable<Task> WorkApp::GetTask(const core::Principal& who, core::CallContext call,
                                 std::string org_id, std::string task_id) {
  auto role = co_await ResolveRole(who, call, org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kViewTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  Result<Task> out = core::Fail(ErrorCode::kInternal, "not read");
  auto options = Options(org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    out = co_await store::GetTask(tx, org_id, task_id);
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_return out;
}

Awaitable<Task> WorkApp::UpdateTask(const core::Principal& who, core::CallContext call,
                                    UpdateTaskInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kUpdateTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  if (input.assignee_id && *input.assignee_id) {
    if (auto ok = co_await CheckAssignee(call, input.org_id, **input.assignee_id); !ok) {
      co_return std::unexpected(ok.error());
    }
  }
  const std::int64_t now = NowMs();
  Task after;
  bool changed = false;
  auto options = Options(input.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto current = co_await store::GetTask(tx, input.org_id, input.task_id);
    if (!current) co_return std::unexpected(current.error());
    auto project = co_await store::GetProject(tx, input.org_id, current->project_id);
    if (!project) co_return std::unexpected(project.error());
    if (auto ok = domain::CheckProjectWritable(*project); !ok) co_return ok;
    if (auto ok = CheckExpected(input.expected, current->version); !ok) co_return ok;
    after = *current;
    if (input.title) after.title = *input.title;
    if (input.description) after.description = *input.description;
    if (input.status) after.status = *input.status;
    if (input.priority) after.priority = *input.priority;
    if (input.assignee_id) after.assignee_id = *input.assignee_id;
    if (input.due_date) after.due_date = *input.due_date;
    if (input.labels) after.labels = domain::NormalizeLabels(*input.labels);
    domain::FieldErrors errors;
    domain::ValidateTask(after, errors);
    if (auto ok = errors.Finish(); !ok) co_return ok;
    if (auto ok = domain::CheckTransition(current->status, after.status); !ok) co_return ok;
    const bool labels_changed = after.labels != current->labels;
    changed = labels_changed || after.title != current->title ||
              after.description != current->description || after.status != current->status ||
              after.priority != current->priority || after.assignee_id != current->assignee_id ||
              after.due_date != current->due_date;
    if (!changed) co_return Result<void>();
    after.version = current->version + 1;
    after.updated_at_ms = now;
    if (auto r = co_await store::UpdateTask(tx, after, current->version, labels_changed); !r) {
      co_return r;
    }
    co_return co_await Append(tx, who, after.org_id, "work.task.updated", after.id, TaskJson(after),
                              now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  if (changed) co_await Committed(input.org_id, "work.task.updated", call.deadline);
  co_return after;
}

Awaitable<void> WorkApp::DeleteTask(const core::Principal& who, core::CallContext call,
                                    DeleteTaskInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kDeleteOwnTask); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  auto options = Options(input.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto current = co_await store::GetTask(tx, input.org_id, input.task_id);
    if (!current) co_return std::unexpected(current.error());
    if (current->created_by != who.ActorId()) {
      if (auto ok = domain::Authorize(*role, Action::kDeleteAnyTask); !ok) co_return ok;
    }
    auto project = co_await store::GetProject(tx, input.org_id, current->project_id);
    if (!project) co_return std::unexpected(project.error());
    if (auto ok = domain::CheckProjectWritable(*project); !ok) co_return ok;
    if (auto ok = CheckExpected(input.expected, current->version); !ok) co_return ok;
    if (auto r = co_await store::DeleteTask(tx, input.org_id, input.task_id, current->version);
        !r) {
      co_return r;
    }
    co_return co_await Append(tx, who, input.org_id, "work.task.deleted", current->id,
                              TaskJson(*current), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_await Committed(input.org_id, "work.task.deleted", call.deadline);
  co_return Result<void>();
}

// --- comments ---------------------------------------------------------------------------

namespace {

// The task a comment hangs on, and whether its project accepts changes.
Awaitable<void> CheckTaskWritable(SqlTransaction& tx, const std::string& org_id,
                                  const std::string& task_id) {
  auto task = co_await store::GetTask(tx, org_id, task_id);
  if (!task) co_return std::unexpected(task.error());
  auto project = co_await store::GetProject(tx, org_id, task->project_id);
  if (!project) co_return std::unexpected(project.error());
  co_return domain::CheckProjectWritable(*project);
}

}  // namespace

Awaitable<Comment> WorkApp::CreateComment(const core::Principal& who, core::CallContext call,
                                          CreateCommentInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kCreateComment); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  Comment c;
  c.org_id = input.org_id;
  c.id = ids_.Next();
  c.task_id = std::move(input.task_id);
  c.author_id = who.ActorId();
  c.body = std::move(input.body);
  c.created_at_ms = now;
  c.updated_at_ms = now;
  c.version = 1;
  domain::FieldErrors errors;
  domain::ValidateComment(c, errors);
  if (auto ok = errors.Finish(); !ok) co_return std::unexpected(ok.error());
  auto options = Options(c.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    if (auto ok = co_await CheckTaskWritable(tx, c.org_id, c.task_id); !ok) co_return ok;
    if (auto r = co_await store::InsertComment(tx, c); !r) co_return r;
    co_return co_await Append(tx, who, c.org_id, "work.comment.created", c.id, CommentJson(c), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_await Committed(input.org_id, "work.comment.created", call.deadline);
  co_return c;
}

Awaitable<Page<Comment>> WorkApp::ListComments(const core::Principal& who, core::CallContext call,
                                               ListCommentsInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kViewComment); !ok) {
    co_return std::unexpected(ok.error());
  }
  const int limit = input.query.limit;
  store::CommentQuery query = std::move(input.query);
  query.limit = limit + 1;
  std::vector<Comment> rows;
  auto options = Options(input.org_id, call, true);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto r = co_await store::ListComments(tx, input.org_id, query);
    if (!r) co_return std::unexpected(r.error());
    rows = std::move(*r);
    if (rows.empty()) {
      auto task = co_await store::GetTask(tx, input.org_id, query.task_id);
      if (!task) co_return std::unexpected(task.error());
    }
    co_return Result<void>();
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_return MakePage(std::move(rows), limit, [](const Comment& c) { return store::SortKey(c); });
}

Awaitable<Comment> WorkApp::UpdateComment(const core::Principal& who, core::CallContext call,
                                          UpdateCommentInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kEditOwnComment); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  Comment after;
  bool changed = false;
  auto options = Options(input.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto current = co_await store::GetComment(tx, input.org_id, input.task_id, input.comment_id);
    if (!current) co_return std::unexpected(current.error());
    if (current->author_id != who.ActorId()) {
      co_return core::Fail(ErrorCode::kPermissionDenied, "only the author may edit a comment");
    }
    if (auto ok = co_await CheckTaskWritable(tx, input.org_id, input.task_id); !ok) co_return ok;
    if (auto ok = CheckExpected(input.expected, current->version); !ok) co_return ok;
    after = *current;
    after.body = input.body;
    domain::FieldErrors errors;
    domain::ValidateComment(after, errors);
    if (auto ok = errors.Finish(); !ok) co_return ok;
    changed = after.body != current->body;
    if (!changed) co_return Result<void>();
    after.version = current->version + 1;
    after.updated_at_ms = now;
    if (auto r = co_await store::UpdateComment(tx, after, current->version); !r) co_return r;
    co_return co_await Append(tx, who, after.org_id, "work.comment.updated", after.id,
                              CommentJson(after), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  if (changed) co_await Committed(input.org_id, "work.comment.updated", call.deadline);
  co_return after;
}

Awaitable<void> WorkApp::DeleteComment(const core::Principal& who, core::CallContext call,
                                       DeleteCommentInput input) {
  auto role = co_await ResolveRole(who, call, input.org_id);
  if (!role) co_return std::unexpected(role.error());
  if (auto ok = domain::Authorize(*role, Action::kDeleteOwnComment); !ok) {
    co_return std::unexpected(ok.error());
  }
  const std::int64_t now = NowMs();
  auto options = Options(input.org_id, call, false);
  platform::ports::TransactionBody body = [&](SqlTransaction& tx) -> Awaitable<void> {
    auto current = co_await store::GetComment(tx, input.org_id, input.task_id, input.comment_id);
    if (!current) co_return std::unexpected(current.error());
    if (current->author_id != who.ActorId()) {
      if (auto ok = domain::Authorize(*role, Action::kDeleteAnyComment); !ok) co_return ok;
    }
    if (auto ok = co_await CheckTaskWritable(tx, input.org_id, input.task_id); !ok) co_return ok;
    if (auto ok = CheckExpected(input.expected, current->version); !ok) co_return ok;
    if (auto r = co_await store::DeleteComment(tx, input.org_id, current->id, current->version);
        !r) {
      co_return r;
    }
    co_return co_await Append(tx, who, input.org_id, "work.comment.deleted", current->id,
                              CommentJson(*current), now);
  };
  auto done = co_await store_.Transact(std::move(options), std::move(body));
  if (!done) co_return std::unexpected(done.error());
  co_await Committed(input.org_id, "work.comment.deleted", call.deadline);
  co_return Result<void>();
}

}  // namespace trellis::work::app
