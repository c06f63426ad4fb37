#include "cmd/trellis/demo.hpp"

#include <array>
#include <utility>

#include "platform/ports/run_sync.hpp"
#include "services/identity/app/identity_app.hpp"
#include "services/identity/app/oidc_issuer.hpp"
#include "services/work/app/work_app.hpp"

namespace trellis::cmd {

namespace core = platform::core;
using core::ErrorCode;
using core::Result;

namespace {

struct DemoTask {
  const char* title;
  const char* description;
  work::domain::TaskStatus status;
  std::int64_t priority;
  const char* label;
};

constexpr std::array kLaunchTasks{
    DemoTask{"Write the launch post", "Explain what Trellis Work does, with screenshots.",
             work::domain::TaskStatus::kInProgress, 2, "marketing"},
    DemoTask{"Pick a pricing page layout", "Three plans, yearly toggle.",
             work::domain::TaskStatus::kTodo, 3, "design"},
    DemoTask{"Load-test the task list", "Target: 20k requests/s on two cores.",
             work::domain::TaskStatus::kDone, 1, "engineering"},
    DemoTask{"Invite the beta customers", "Send the invitations from the members page.",
             work::domain::TaskStatus::kTodo, 2, "sales"},
};

constexpr std::array kOpsTasks{
    DemoTask{"Rotate the signing keys", "The built-in issuer rotates them every 30 days.",
             work::domain::TaskStatus::kTodo, 4, "security"},
    DemoTask{"Set up the PostgreSQL replica", "Read-your-writes through the commit LSN.",
             work::domain::TaskStatus::kInProgress, 2, "infrastructure"},
};

boost::asio::awaitable<Result<DemoSeed>> Seed(Product& product) {
  DemoSeed seed;
  auto signed_up = co_await product.Issuer().SignUp(kDemoEmail, "Demo User", kDemoPassword, "cli");
  if (!signed_up) {
    if (signed_up.error().code == ErrorCode::kAlreadyExists) co_return seed;
    co_return std::unexpected(signed_up.error());
  }
  seed.created = true;
  const std::string user_id = signed_up->session.user_id;
  core::CallContext call;
  identity::app::CreateOrgInput org_input;
  org_input.name = "Demo Company";
  org_input.slug = "demo";
  auto org = co_await product.Identity().AdminCreateOrg(call, std::move(org_input), user_id);
  if (!org) co_return std::unexpected(org.error());
  seed.org_id = org->id;

  core::Principal who;
  who.user_id = user_id;
  who.email = kDemoEmail;
  struct ProjectSeed {
    const char* name;
    const char* description;
    const DemoTask* tasks;
    std::size_t count;
  };
  const std::array projects{
      ProjectSeed{"Launch", "Everything for the public launch.", kLaunchTasks.data(),
                  kLaunchTasks.size()},
      ProjectSeed{"Operations", "Keeping the platform healthy.", kOpsTasks.data(),
                  kOpsTasks.size()},
  };
  for (const auto& p : projects) {
    work::app::CreateProjectInput project_input;
    project_input.org_id = org->id;
    project_input.name = p.name;
    project_input.description = p.description;
    auto project = co_await product.Work().CreateProject(who, call, std::move(project_input));
    if (!project) co_return std::unexpected(project.error());
    for (std::size_t i = 0; i < p.count; ++i) {
      work::app::CreateTaskInput task_input;
      task_input.org_id = org->id;
      task_input.project_id = project->id;
      task_input.title = p.tasks[i].title;
      task_input.description = p.tasks[i].description;
      task_input.status = p.tasks[i].status;
      task_input.priority = p.tasks[i].priority;
      task_input.assignee_id = user_id;
      task_input.labels = {p.tasks[i].label};
      auto task = co_await product.Work().CreateTask(who, call, std::move(task_input));
      if (!task) co_return std::unexpected(task.error());
      work::app::CreateCommentInput comment;
      comment.org_id = org->id;
      comment.task_id = task->id;
      comment.body = "Seeded by trellis serve --demo.";
      auto commented = co_await product.Work().CreateComment(who, call, std::move(comment));
      if (!commented) co_return std::unexpected(commented.error());
    }
  }
  co_return seed;
}

}  // namespace

Result<DemoSeed> SeedDemo(Product& product) {
  // On the product's background loop, not a throwaway one: the seed's commits invalidate the
  // cache, and a Redis connection lives as long as the loop it was made on.
  return product.RunOnBackground(Seed(product));
}

}  // namespace trellis::cmd
