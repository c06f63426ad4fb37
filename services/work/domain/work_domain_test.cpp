// The work context's rules without I/O: validation, the status graph, archived projects and
// the permission table.
#include <gtest/gtest.h>

#include <string>

#include "services/work/domain/work_permissions.hpp"
#include "services/work/domain/work_rules.hpp"

namespace trellis::work::domain {
namespace {

using platform::core::ErrorCode;
using platform::core::Role;

std::vector<std::string> Pointers(const platform::core::Result<void>& r) {
  std::vector<std::string> out;
  if (!r) {
    for (const auto& f : r.error().fields) out.push_back(f.pointer);
  }
  return out;
}

Task ValidTask() {
  Task t;
  t.title = "Write the release notes";
  t.description = "Line one\nline two\twith a tab";
  t.priority = kPriorityHigh;
  t.due_date = "2026-12-31";
  t.labels = {"docs", "release"};
  return t;
}

TEST(WorkRulesTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePoints(""), 0U);
  EXPECT_EQ(CodePoints("abc"), 3U);
  EXPECT_EQ(CodePoints("\xC3\xA9t\xC3\xA9"), 3U);  // "été"
  EXPECT_EQ(CodePoints("\xF0\x9F\x98\x80"), 1U);   // one emoji, four bytes
}

TEST(WorkRulesTest, AcceptsAValidTask) {
  FieldErrors errors;
  ValidateTask(ValidTask(), errors);
  EXPECT_TRUE(errors.Empty());
  EXPECT_TRUE(errors.Finish().has_value());
}

TEST(WorkRulesTest, ReportsEveryInvalidTaskFieldAtItsPointer) {
  Task t = ValidTask();
  t.title = "   ";
  t.description = std::string(kMaxTaskDescriptionLength + 1, 'x');
  t.priority = 5;
  t.due_date = "2026-02-30";
  t.labels = {"ok", "", std::string(kMaxLabelLength + 1, 'l')};
  FieldErrors errors;
  ValidateTask(t, errors);
  auto r = errors.Finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  EXPECT_EQ(Pointers(r), (std::vector<std::string>{"/title", "/description", "/priority",
                                                   "/due_date", "/labels/1", "/labels/2"}));
}

TEST(WorkRulesTest, TitleLimitsCountCharacters) {
  Task t = ValidTask();
  t.title = "";
  for (std::size_t i = 0; i < kMaxTaskTitleLength; ++i) t.title += "\xC3\xA9";
  FieldErrors ok;
  ValidateTask(t, ok);
  EXPECT_TRUE(ok.Empty());
  t.title += "x";
  FieldErrors too_long;
  ValidateTask(t, too_long);
  EXPECT_EQ(Pointers(too_long.Finish()), std::vector<std::string>{"/title"});
  t.title = "";
  FieldErrors empty;
  ValidateTask(t, empty);
  EXPECT_EQ(Pointers(empty.Finish()), std::vector<std::string>{"/title"});
}

TEST(WorkRulesTest, RefusesMoreThanTwentyLabels) {
  Task t = ValidTask();
  t.labels.clear();
  for (std::size_t i = 0; i <= kMaxLabels; ++i) t.labels.push_back("l" + std::to_string(i));
  FieldErrors errors;
  ValidateTask(t, errors);
  EXPECT_EQ(Pointers(errors.Finish()), std::vector<std::string>{"/labels"});
}

TEST(WorkRulesTest, NormalizesLabelsSortedAndUnique) {
  EXPECT_EQ(NormalizeLabels({"b", "a", "b", "c"}), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(WorkRulesTest, ValidatesProjectsAndComments) {
  Project p;
  p.name = "Apollo";
  FieldErrors ok;
  ValidateProject(p, ok);
  EXPECT_TRUE(ok.Empty());
  p.name = "bad\x01name";
  p.description = std::string(kMaxProjectDescriptionLength + 1, 'd');
  FieldErrors bad;
  ValidateProject(p, bad);
  EXPECT_EQ(Pointers(bad.Finish()), (std::vector<std::string>{"/name", "/description"}));

  Comment c;
  c.body = "Looks good\n";
  FieldErrors c_ok;
  ValidateComment(c, c_ok);
  EXPECT_TRUE(c_ok.Empty());
  for (const std::string& body :
       {std::string(), std::string(" \n\t"), std::string(kMaxCommentBodyLength + 1, 'b')}) {
    c.body = body;
    FieldErrors c_bad;
    ValidateComment(c, c_bad);
    EXPECT_EQ(Pointers(c_bad.Finish()), std::vector<std::string>{"/body"}) << body.size();
  }
}

TEST(WorkRulesTest, DatesMustExist) {
  EXPECT_TRUE(CheckDate("2028-02-29").empty());
  EXPECT_FALSE(CheckDate("2027-02-29").empty());
  EXPECT_FALSE(CheckDate("2027-1-01").empty());
  EXPECT_FALSE(CheckDate("tomorrow").empty());
}

TEST(WorkRulesTest, StatusNamesRoundTrip) {
  for (auto s :
       {TaskStatus::kTodo, TaskStatus::kInProgress, TaskStatus::kDone, TaskStatus::kCanceled}) {
    EXPECT_EQ(ParseTaskStatus(TaskStatusName(s)), s);
  }
  EXPECT_FALSE(ParseTaskStatus("TODO"));
  EXPECT_FALSE(ParseTaskStatus("closed"));
}

TEST(WorkRulesTest, StatusGraphIsExactlyTheDocumentedOne) {
  using S = TaskStatus;
  EXPECT_EQ(AllowedTransitions(S::kTodo), (std::vector<S>{S::kInProgress, S::kCanceled}));
  EXPECT_EQ(AllowedTransitions(S::kInProgress), (std::vector<S>{S::kTodo, S::kDone, S::kCanceled}));
  EXPECT_EQ(AllowedTransitions(S::kDone), (std::vector<S>{S::kInProgress}));
  EXPECT_EQ(AllowedTransitions(S::kCanceled), (std::vector<S>{S::kTodo}));
  for (auto s : {S::kTodo, S::kInProgress, S::kDone, S::kCanceled}) {
    EXPECT_TRUE(CanTransition(s, s));
  }
  EXPECT_FALSE(CanTransition(S::kTodo, S::kDone));
  EXPECT_FALSE(CanTransition(S::kDone, S::kTodo));
  EXPECT_FALSE(CanTransition(S::kCanceled, S::kDone));
}

TEST(WorkRulesTest, AForbiddenTransitionIs422AtStatusNamingTheTargets) {
  auto r = CheckTransition(TaskStatus::kDone, TaskStatus::kCanceled);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  ASSERT_EQ(r.error().fields.size(), 1U);
  EXPECT_EQ(r.error().fields[0].pointer, "/status");
  EXPECT_EQ(r.error().fields[0].detail,
            "cannot change status from done to canceled; allowed: in_progress");
  EXPECT_TRUE(CheckTransition(TaskStatus::kTodo, TaskStatus::kInProgress));
}

TEST(WorkRulesTest, AnArchivedProjectIsAConflict) {
  Project p;
  EXPECT_TRUE(CheckProjectWritable(p));
  p.archived = true;
  auto r = CheckProjectWritable(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAborted);
  EXPECT_EQ(platform::core::HttpStatus(r.error().code), 409);
}

TEST(WorkPermissionsTest, TableMatchesTheDocumentedMatrix) {
  const std::vector<std::pair<Action, Role>> expected = {
      {Action::kViewProject, Role::kViewer},      {Action::kCreateProject, Role::kMember},
      {Action::kUpdateProject, Role::kMember},    {Action::kArchiveProject, Role::kAdmin},
      {Action::kViewTask, Role::kViewer},         {Action::kCreateTask, Role::kMember},
      {Action::kUpdateTask, Role::kMember},       {Action::kDeleteOwnTask, Role::kMember},
      {Action::kDeleteAnyTask, Role::kAdmin},     {Action::kViewComment, Role::kViewer},
      {Action::kCreateComment, Role::kMember},    {Action::kEditOwnComment, Role::kMember},
      {Action::kDeleteOwnComment, Role::kMember}, {Action::kDeleteAnyComment, Role::kAdmin},
  };
  ASSERT_EQ(expected.size(), std::size(kAllActions));
  for (const auto& [action, role] : expected) {
    EXPECT_EQ(MinimumRole(action), role) << ActionName(action);
  }
}

TEST(WorkPermissionsTest, StrongerRolesInheritWeakerRights) {
  for (Action a : kAllActions) {
    bool allowed_below = false;
    for (Role r : {Role::kViewer, Role::kMember, Role::kAdmin, Role::kOwner}) {
      const bool allowed = Allowed(r, a);
      if (allowed_below) {
        EXPECT_TRUE(allowed) << ActionName(a) << " " << RoleName(r);
      }
      allowed_below = allowed;
    }
    EXPECT_TRUE(Allowed(Role::kOwner, a)) << ActionName(a);
  }
}

TEST(WorkPermissionsTest, DenialIs403NamingTheRoleNeeded) {
  auto r = Authorize(Role::kViewer, Action::kCreateTask);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find("member"), std::string::npos);
  EXPECT_TRUE(Authorize(Role::kMember, Action::kCreateTask));
  EXPECT_FALSE(Authorize(Role::kMember, Action::kArchiveProject));
  EXPECT_TRUE(Authorize(Role::kAdmin, Action::kArchiveProject));
}

}  // namespace
}  // namespace trellis::work::domain
