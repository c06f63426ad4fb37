// The public JSON representation of the work context's resources: the API's response bodies
// and the payload of every work domain event are the same text.
//
//   std::string body = TaskJson(task);  // {"id":…,"project_id":…,"labels":[…],"version":3,…}
#pragma once

#include <string>

#include "services/work/domain/work_model.hpp"

namespace trellis::work::app {

[[nodiscard]] std::string ProjectJson(const domain::Project& project);
[[nodiscard]] std::string TaskJson(const domain::Task& task);
[[nodiscard]] std::string CommentJson(const domain::Comment& comment);

}  // namespace trellis::work::app
