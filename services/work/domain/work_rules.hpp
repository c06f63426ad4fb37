// The work context's rules: field limits and validation, the task status graph, and what an
// archived project allows. Pure functions; app/ applies them, api/ reuses the checks while
// reading JSON so that a body's errors are all reported at once.
//
//   if (auto d = CheckName(name); !d.empty()) errors.Add("/name", std::string(d));
//   if (!CanTransition(TaskStatus::kDone, TaskStatus::kTodo)) ...  // reopen goes via in_progress
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/error.hpp"
#include "services/work/domain/work_model.hpp"

namespace trellis::work::domain {

// Lengths count Unicode code points.
inline constexpr std::size_t kMaxProjectNameLength = 200;
inline constexpr std::size_t kMaxProjectDescriptionLength = 10'000;
inline constexpr std::size_t kMaxTaskTitleLength = 200;
inline constexpr std::size_t kMaxTaskDescriptionLength = 20'000;
inline constexpr std::size_t kMaxLabels = 20;
inline constexpr std::size_t kMaxLabelLength = 50;
inline constexpr std::size_t kMaxCommentBodyLength = 10'000;

// Unicode code points in a UTF-8 string (continuation bytes are not counted).
[[nodiscard]] std::size_t CodePoints(std::string_view utf8);

// Format checks run after the length check; each returns an error detail, or "" when valid.
// Their signature fits platform/http's StringCheck.
//
// Names, titles and labels: not only whitespace, no control characters.
[[nodiscard]] std::string_view CheckName(std::string_view value);
// Descriptions and comment bodies: no control characters other than tab, CR and LF.
[[nodiscard]] std::string_view CheckText(std::string_view value);
// Comment bodies: as CheckText, and not only whitespace.
[[nodiscard]] std::string_view CheckBody(std::string_view value);
// A calendar date "YYYY-MM-DD".
[[nodiscard]] std::string_view CheckDate(std::string_view value);

// Collects one error per field; Finish() is kValidation listing them all, or success.
class FieldErrors {
 public:
  void Add(std::string pointer, std::string detail);
  // Length (code points, min..max) then format check; adds at most one error.
  void CheckString(std::string pointer, std::string_view value, std::size_t min_len,
                   std::size_t max_len, std::string_view (*check)(std::string_view));
  [[nodiscard]] bool Empty() const { return errors_.empty(); }
  [[nodiscard]] platform::core::Result<void> Finish() const;

 private:
  std::vector<platform::core::FieldError> errors_;
};

// Whole-value validation used by the use cases (whatever transport the input came by).
void ValidateProject(const Project& project, FieldErrors& errors);
void ValidateTask(const Task& task, FieldErrors& errors);
void ValidateComment(const Comment& comment, FieldErrors& errors);

// Labels as stored: sorted and without duplicates.
[[nodiscard]] std::vector<std::string> NormalizeLabels(std::vector<std::string> labels);

// The task status graph (reopen and restore included):
//
//   todo        -> in_progress, canceled
//   in_progress -> done, todo, canceled
//   done        -> in_progress            (reopen)
//   canceled    -> todo                   (restore)
//
// Staying in the same status is always allowed (a PATCH may repeat the current value).
[[nodiscard]] bool CanTransition(TaskStatus from, TaskStatus to);
[[nodiscard]] std::vector<TaskStatus> AllowedTransitions(TaskStatus from);
// Success, or kValidation at "/status" naming the allowed targets.
[[nodiscard]] platform::core::Result<void> CheckTransition(TaskStatus from, TaskStatus to);

// Tasks (and their comments) of an archived project are read-only until it is unarchived:
// kAborted (409 Conflict) "the project is archived", since the request is valid but conflicts
// with the project's current state.
[[nodiscard]] platform::core::Result<void> CheckProjectWritable(const Project& project);

}  // namespace trellis::work::domain
