#include "services/work/domain/work_rules.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "platform/core/time_format.hpp"

namespace trellis::work::domain {

namespace core = platform::core;

namespace {

constexpr std::array<TaskStatus, 4> kAllStatuses = {TaskStatus::kTodo, TaskStatus::kInProgress,
                                                    TaskStatus::kDone, TaskStatus::kCanceled};

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

std::string_view TaskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kTodo: return "todo";
    case TaskStatus::kInProgress: return "in_progress";
    case TaskStatus::kDone: return "done";
    case TaskStatus::kCanceled: return "canceled";
  }
  return "todo";
}

std::optional<TaskStatus> ParseTaskStatus(std::string_view name) {
  for (TaskStatus s : kAllStatuses) {
    if (TaskStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::size_t CodePoints(std::string_view utf8) {
  std::size_t n = 0;
  for (const char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++n;
  }
  return n;
}

std::string_view CheckName(std::string_view value) {
  bool blank = true;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (IsControl(u)) return "must not contain control characters";
    if (c != ' ') blank = false;
  }
  if (blank) return "must not be blank";
  return {};
}

std::string_view CheckText(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (IsControl(u) && c != '\t' && c != '\n' && c != '\r') {
      return "must not contain control characters other than tab and line breaks";
    }
  }
  return {};
}

std::string_view CheckBody(std::string_view value) {
  if (auto detail = CheckText(value); !detail.empty()) return detail;
  if (value.find_first_not_of(" \t\r\n") == std::string_view::npos) return "must not be blank";
  return {};
}

std::string_view CheckDate(std::string_view value) {
  if (!core::IsValidDate(value)) return "must be a calendar date YYYY-MM-DD";
  return {};
}

void FieldErrors::Add(std::string pointer, std::string detail) {
  errors_.push_back(core::FieldError{std::move(pointer), std::move(detail)});
}

void FieldErrors::CheckString(std::string pointer, std::string_view value, std::size_t min_len,
                              std::size_t max_len, std::string_view (*check)(std::string_view)) {
  const std::size_t n = CodePoints(value);
  if (n < min_len) {
    Add(std::move(pointer), min_len == 1
                                ? "must not be empty"
                                : "must be at least " + std::to_string(min_len) + " characters");
    return;
  }
  if (n > max_len) {
    Add(std::move(pointer), "must be at most " + std::to_string(max_len) + " characters");
    return;
  }
  if (check != nullptr) {
    if (auto detail = check(value); !detail.empty()) Add(std::move(pointer), std::string(detail));
  }
}

core::Result<void> FieldErrors::Finish() const {
  if (errors_.empty()) return {};
  core::Error error(core::ErrorCode::kValidation, "the request has invalid fields");
  error.fields = errors_;
  return std::unexpected(std::move(error));
}

void ValidateProject(const Project& project, FieldErrors& errors) {
  errors.CheckString("/name", project.name, 1, kMaxProjectNameLength, CheckName);
  errors.CheckString("/description", project.description, 0, kMaxProjectDescriptionLength,
                     CheckText);
}

void ValidateTask(const Task& task, FieldErrors& errors) {
  errors.CheckString("/title", task.title, 1, kMaxTaskTitleLength, CheckName);
  errors.CheckString("/description", task.description, 0, kMaxTaskDescriptionLength, CheckText);
  if (task.priority < kPriorityNone || task.priority > kPriorityLow) {
    errors.Add("/priority", "must be between 0 and 4");
  }
  if (task.due_date) errors.CheckString("/due_date", *task.due_date, 10, 10, CheckDate);
  if (task.labels.size() > kMaxLabels) {
    errors.Add("/labels", "must have at most " + std::to_string(kMaxLabels) + " items");
  } else {
    for (std::size_t i = 0; i < task.labels.size(); ++i) {
      errors.CheckString("/labels/" + std::to_string(i), task.labels[i], 1, kMaxLabelLength,
                         CheckName);
    }
  }
}

void ValidateComment(const Comment& comment, FieldErrors& errors) {
  errors.CheckString("/body", comment.body, 1, kMaxCommentBodyLength, CheckBody);
}

std::vector<std::string> NormalizeLabels(std::vector<std::string> labels) {
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

bool CanTransition(TaskStatus from, TaskStatus to) {
  if (from == to) return true;
  switch (from) {
    case TaskStatus::kTodo: return to == TaskStatus::kInProgress || to == TaskStatus::kCanceled;
    case TaskStatus::kInProgress:
      return to == TaskStatus::kDone || to == TaskStatus::kTodo || to == TaskStatus::kCanceled;
    case TaskStatus::kDone: return to == TaskStatus::kInProgress;
    case TaskStatus::kCanceled: return to == TaskStatus::kTodo;
  }
  return false;
}

std::vector<TaskStatus> AllowedTransitions(TaskStatus from) {
  std::vector<TaskStatus> out;
  for (TaskStatus to : kAllStatuses) {
    if (to != from && CanTransition(from, to)) out.push_back(to);
  }
  return out;
}

core::Result<void> CheckTransition(TaskStatus from, TaskStatus to) {
  if (CanTransition(from, to)) return {};
  std::string detail = "cannot change status from ";
  detail += TaskStatusName(from);
  detail += " to ";
  detail += TaskStatusName(to);
  detail += "; allowed: ";
  bool first = true;
  for (TaskStatus s : AllowedTransitions(from)) {
    if (!first) detail += ", ";
    detail += TaskStatusName(s);
    first = false;
  }
  FieldErrors errors;
  errors.Add("/status", std::move(detail));
  return errors.Finish();
}

core::Result<void> CheckProjectWritable(const Project& project) {
  if (!project.archived) return {};
  return core::Fail(core::ErrorCode::kAborted, "the project is archived",
                    "project " + project.id + " is archived");
}

}  // namespace trellis::work::domain
