// The public JSON representation of the work context's resources: the API's response bodies
// and the payload of every work domain event are the same text.
//
//   std::string body = TaskJson(task);  // {"id":…,"project_id":…,"labels":[…],"version":3,…}
#pragma once

#include <string>

#include "services/work/domain/work_model.hpp"
#include "services/work/store/work_store.hpp"

namespace trellis::work::app {

[[nodiscard]] std::string ProjectJson(const domain::Project& project);
[[nodiscard]] std::string TaskJson(const domain::Task& task);
[[nodiscard]] std::string CommentJson(const domain::Comment& comment);
// GET …/projects/{project}/summary: {"project":{…},"tasks":{"todo":…,…},"recent_comments":…,
// "recent_tasks":[{"id","title","status","updated_at"}]}.
[[nodiscard]] std::string ProjectSummaryJson(const store::ProjectSummary& summary);

}  // namespace trellis::work::app
