// The work context's repository: every SQL statement of projects, tasks, labels and comments.
// Each function takes the open transaction and the org, and every statement filters on
// org_id = $1, so a row of another org is never read, changed or deleted. Ids are taken by
// value (a coroutine must not keep a reference to a caller's temporary); the aggregates and
// queries passed by reference must outlive the awaitable, so await each call at once.
//
//   auto task = co_await GetTask(tx, org, task_id);            // kNotFound across orgs too
//   TaskQuery q; q.project_id = p; q.statuses = {TaskStatus::kTodo}; q.limit = 51;
//   auto page = co_await ListTasks(tx, org, q);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/ports/sql_store.hpp"
#include "services/work/domain/work_model.hpp"

namespace trellis::work::store {

using platform::ports::Awaitable;
using platform::ports::SqlTransaction;

// A keyset position: the sort key of the last row returned (as text) and its id.
struct Position {
  std::string key;
  std::string id;
};

// --- projects ---------------------------------------------------------------------------

enum class ProjectSort { kCreatedAt, kUpdatedAt, kName };

struct ProjectQuery {
  std::optional<bool> archived;  // absent: both
  ProjectSort sort = ProjectSort::kCreatedAt;
  bool descending = true;
  std::optional<Position> after;
  int limit = 50;  // rows to return; ask for one more than the page to learn if more follow
};

[[nodiscard]] Awaitable<void> InsertProject(SqlTransaction& tx, const domain::Project& project);
// kNotFound when the org has no such project.
[[nodiscard]] Awaitable<domain::Project> GetProject(SqlTransaction& tx, std::string org_id,
                                                    std::string project_id);
// Writes every mutable field and project.version where the row still has expected_version;
// kFailedPrecondition when it has not, kNotFound when the row is gone.
[[nodiscard]] Awaitable<void> UpdateProject(SqlTransaction& tx, const domain::Project& project,
                                            std::int64_t expected_version);
[[nodiscard]] Awaitable<std::vector<domain::Project>> ListProjects(SqlTransaction& tx,
                                                                   std::string org_id,
                                                                   const ProjectQuery& query);
// The key a project sorts by, for the cursor after it.
[[nodiscard]] std::string SortKey(const domain::Project& project, ProjectSort sort);

// --- tasks ------------------------------------------------------------------------------

// due_date sorts with tasks without one last (ascending); priority sorts urgent first and
// "none" last.
enum class TaskSort { kCreatedAt, kUpdatedAt, kDueDate, kPriority };

struct TaskQuery {
  std::string project_id;
  std::vector<domain::TaskStatus> statuses;  // empty: any
  std::optional<std::string> assignee_id;    // "" : unassigned tasks
  std::optional<std::string> label;
  std::optional<std::int64_t> priority;
  std::optional<std::string> text;        // full-text search over title and description
  std::optional<std::string> due_before;  // due_date < this (YYYY-MM-DD)
  std::optional<std::string> due_after;   // due_date > this
  TaskSort sort = TaskSort::kCreatedAt;
  bool descending = true;
  std::optional<Position> after;
  int limit = 50;
};

// Inserts the task and its labels.
[[nodiscard]] Awaitable<void> InsertTask(SqlTransaction& tx, const domain::Task& task);
// The task with its labels; kNotFound when the org has no such task.
[[nodiscard]] Awaitable<domain::Task> GetTask(SqlTransaction& tx, std::string org_id,
                                              std::string task_id);
// As UpdateProject; replaces the labels when replace_labels.
[[nodiscard]] Awaitable<void> UpdateTask(SqlTransaction& tx, const domain::Task& task,
                                         std::int64_t expected_version, bool replace_labels);
// Deletes the task, its labels and its comments; kFailedPrecondition when the version moved.
[[nodiscard]] Awaitable<void> DeleteTask(SqlTransaction& tx, std::string org_id,
                                         std::string task_id, std::int64_t expected_version);
// One page: one query for the tasks, one for the labels of all of them.
[[nodiscard]] Awaitable<std::vector<domain::Task>> ListTasks(SqlTransaction& tx, std::string org_id,
                                                             const TaskQuery& query);
[[nodiscard]] std::string SortKey(const domain::Task& task, TaskSort sort);

// A user's search text as an FTS5 query that cannot use FTS5 syntax: each word quoted, all of
// them required, the last one also as a prefix. "" when the text has no word.
[[nodiscard]] std::string FtsQuery(std::string_view text);
// The same search as PostgreSQL tsquery text for to_tsquery('trellis_search', …) (the tasks'
// generated tsvector column): the same words, each quoted, all required (&), the last one also
// as a prefix (:*); a word FTS5 would split at '_' becomes a phrase (<->). "" when the text
// has no word.
[[nodiscard]] std::string TsQuery(std::string_view text);

// --- comments ---------------------------------------------------------------------------

struct CommentQuery {
  std::string task_id;
  std::optional<Position> after;  // oldest first: conversation order
  int limit = 50;
};

[[nodiscard]] Awaitable<void> InsertComment(SqlTransaction& tx, const domain::Comment& comment);
// kNotFound unless the comment belongs to this task of this org.
[[nodiscard]] Awaitable<domain::Comment> GetComment(SqlTransaction& tx, std::string org_id,
                                                    std::string task_id, std::string comment_id);
[[nodiscard]] Awaitable<void> UpdateComment(SqlTransaction& tx, const domain::Comment& comment,
                                            std::int64_t expected_version);
[[nodiscard]] Awaitable<void> DeleteComment(SqlTransaction& tx, std::string org_id,
                                            std::string comment_id, std::int64_t expected_version);
[[nodiscard]] Awaitable<std::vector<domain::Comment>> ListComments(SqlTransaction& tx,
                                                                   std::string org_id,
                                                                   const CommentQuery& query);
[[nodiscard]] std::string SortKey(const domain::Comment& comment);

// --- the project summary ------------------------------------------------------------------

// What the summary counts against: today's date for "overdue" and the start of the window for
// "recent comments", both from the caller's clock.
struct SummaryQuery {
  std::string project_id;
  std::string today;                   // YYYY-MM-DD (UTC)
  std::int64_t comments_since_ms = 0;  // comments created at or after this count
  int recent = 5;                      // how many recently updated tasks to list
};

// One of the most recently updated tasks.
struct RecentTask {
  std::string id;
  std::string title;
  domain::TaskStatus status = domain::TaskStatus::kTodo;
  std::int64_t updated_at_ms = 0;
};

// A project board's header. "Open" tasks are those in todo or in_progress.
struct ProjectSummary {
  domain::Project project;
  std::int64_t todo = 0;
  std::int64_t in_progress = 0;
  std::int64_t done = 0;
  std::int64_t canceled = 0;
  std::int64_t overdue = 0;          // open, due_date before today
  std::int64_t unassigned = 0;       // open, no assignee
  std::int64_t urgent_or_high = 0;   // open, priority urgent or high
  std::int64_t recent_comments = 0;  // on the project's tasks, since comments_since_ms
  std::vector<RecentTask> recent;    // most recently updated first
};

// Ten independent queries (the project, four status counts, overdue, unassigned, urgent or
// high, recent comments, the recent tasks) sent with one ExecuteBatch: one round trip on
// PostgreSQL. kNotFound when the org has no such project.
[[nodiscard]] Awaitable<ProjectSummary> GetProjectSummary(SqlTransaction& tx, std::string org_id,
                                                          SummaryQuery query);

}  // namespace trellis::work::store
