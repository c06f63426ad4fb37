// The work context's aggregates as plain values: projects, tasks and comments of one org.
// No I/O here; store/ loads and saves them, app/ changes them through the rules in
// work_rules.hpp, and the API and the domain events serialize them (app/work_json.hpp).
//
//   Task t;
//   t.status = TaskStatus::kTodo;
//   t.priority = kPriorityUrgent;
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::work::domain {

struct Project {
  std::string org_id;
  std::string id;
  std::string name;
  std::string description;
  bool archived = false;
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 1;
};

// The states of a task; the transitions between them are in work_rules.hpp.
enum class TaskStatus { kTodo, kInProgress, kDone, kCanceled };

[[nodiscard]] std::string_view TaskStatusName(TaskStatus status);
[[nodiscard]] std::optional<TaskStatus> ParseTaskStatus(std::string_view name);

// Priority: 0 none, 1 urgent, 2 high, 3 medium, 4 low (Linear's scale). Sorting by priority
// puts urgent first and "none" last.
inline constexpr std::int64_t kPriorityNone = 0;
inline constexpr std::int64_t kPriorityUrgent = 1;
inline constexpr std::int64_t kPriorityHigh = 2;
inline constexpr std::int64_t kPriorityMedium = 3;
inline constexpr std::int64_t kPriorityLow = 4;

struct Task {
  std::string org_id;
  std::string id;
  std::string project_id;
  std::string title;
  std::string description;
  TaskStatus status = TaskStatus::kTodo;
  std::int64_t priority = kPriorityNone;
  std::optional<std::string> assignee_id;  // a user id, an active member of the org
  std::optional<std::string> due_date;     // YYYY-MM-DD
  std::vector<std::string> labels;         // sorted, unique
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 1;
};

struct Comment {
  std::string org_id;
  std::string id;
  std::string task_id;
  std::string author_id;
  std::string body;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 1;
};

}  // namespace trellis::work::domain
