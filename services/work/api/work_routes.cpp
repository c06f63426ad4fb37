#include "services/work/api/work_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/core/ids.hpp"
#include "platform/http/consistency.hpp"
#include "platform/http/json_body.hpp"
#include "platform/http/problem.hpp"
#include "platform/rest/etag.hpp"
#include "platform/rest/list_query.hpp"
#include "platform/rest/pagination.hpp"
#include "services/work/app/work_json.hpp"
#include "services/work/domain/work_rules.hpp"
#include "services/work/store/work_store.hpp"

namespace trellis::work::api {

namespace {

namespace asio = boost::asio;
namespace core = platform::core;
namespace http = platform::http;
namespace rest = platform::rest;
using http::Method;
using http::Request;
using http::Response;

constexpr std::string_view kOrgs = "/api/v1/orgs/";
// Longest full-text query accepted, in code points.
constexpr std::size_t kMaxSearchLength = 200;

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

// --- small helpers ------------------------------------------------------------------------

Response Fail(const Request& req, const core::Error& error) {
  return http::Problem(error, req.path, req.ctx.request_id);
}

Response NotFound(const Request& req) {
  return Fail(req, core::Error(core::ErrorCode::kNotFound, "not found"));
}

Response Unauthenticated(const Request& req) {
  return Fail(req, core::Error(core::ErrorCode::kUnauthenticated, "sign in first"));
}

using platform::http::CallOf;

// The path parameter, or "" when it is not a UUID (such an id names nothing: 404).
std::string PathId(const Request& req, std::string_view name) {
  const std::string_view v = req.Param(name);
  return core::IsUuid(v) ? std::string(v) : std::string();
}

app::Expected ExpectedOf(const rest::IfMatch& if_match) {
  app::Expected e;
  e.any = if_match.any;
  e.versions = if_match.versions;
  return e;
}

Response WithETag(Response res, std::int64_t version) {
  res.With("ETag", rest::ETag(version));
  return res;
}

Response NotModifiedResponse(std::int64_t version) {
  Response res;
  res.status = 304;
  return WithETag(std::move(res), version);
}

Response NoContent() {
  Response res;
  res.status = 204;
  return res;
}

// Unknown parameters, and single-valued ones given twice, are field errors at "/<name>".
void CheckParams(const QueryPairs& pairs, const std::vector<std::string_view>& known,
                 std::string_view repeatable, domain::FieldErrors& errors) {
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : pairs) {
    bool is_known = false;
    for (const std::string_view k : known) is_known = is_known || k == name;
    const std::string pointer = http::JsonPointerTo(name);
    if (!is_known) {
      errors.Add(pointer, "unknown query parameter");
      continue;
    }
    bool repeated = false;
    for (const std::string_view s : seen) repeated = repeated || s == name;
    if (repeated && name != repeatable) errors.Add(pointer, "must be given once");
    seen.push_back(name);
  }
}

// Adds a 422's field errors to `errors`; any other error is returned to answer with.
std::optional<core::Error> Collect(const core::Error& error, domain::FieldErrors& errors) {
  if (error.code != core::ErrorCode::kValidation) return error;
  for (const auto& f : error.fields) errors.Add(f.pointer, f.detail);
  return std::nullopt;
}

std::string BindingOf(const QueryPairs& parts) {
  std::vector<std::pair<std::string_view, std::string_view>> views;
  views.reserve(parts.size());
  for (const auto& [k, v] : parts) views.emplace_back(k, v);
  return rest::Binding(views);
}

std::string_view CheckStatus(std::string_view value) {
  if (domain::ParseTaskStatus(value)) return {};
  return "must be one of todo, in_progress, done, canceled";
}

std::string_view CheckUuid(std::string_view value) {
  if (core::IsUuid(value)) return {};
  return "must be a UUID";
}

// --- projects -----------------------------------------------------------------------------

asio::awaitable<Response> CreateProject(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  if (org.empty()) co_return NotFound(req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto name = r.String("name", {.required = true,
                                .min_len = 1,
                                .max_len = domain::kMaxProjectNameLength,
                                .check = domain::CheckName});
  auto description = r.String(
      "description", {.max_len = domain::kMaxProjectDescriptionLength, .check = domain::CheckText});
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::CreateProjectInput in;
  in.org_id = org;
  in.name = *name;
  in.description = description.value_or(std::string());
  const core::CallContext call = CallOf(req);
  auto project = co_await work.CreateProject(*who, call, std::move(in));
  if (!project) co_return Fail(req, project.error());
  Response res = Response::Json(201, app::ProjectJson(*project));
  res.With("Location", std::string(kOrgs) + org + "/projects/" + project->id);
  co_return WithETag(std::move(res), project->version);
}

asio::awaitable<Response> ListProjects(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  if (org.empty()) co_return NotFound(req);
  domain::FieldErrors errors;
  CheckParams(req.QueryPairs(), {"archived", "sort", "limit", "cursor"}, "", errors);
  app::ListProjectsInput in;
  in.org_id = org;
  QueryPairs binding;
  auto archived = rest::ParseFilter(req, "archived", {"true", "false"});
  if (!archived) {
    if (auto e = Collect(archived.error(), errors)) co_return Fail(req, *e);
  } else if (*archived) {
    in.query.archived = **archived == "true";
    binding.emplace_back("archived", **archived);
  }
  rest::Sort fallback;
  fallback.field = "created_at";
  fallback.descending = true;
  auto sort = rest::ParseSort(req, {"created_at", "updated_at", "name"}, fallback);
  if (!sort) {
    // Reported with the other parameters' errors; the fallback keeps the checks going.
    if (auto e = Collect(sort.error(), errors)) co_return Fail(req, *e);
    sort = fallback;
  }
  in.query.sort = sort->field == "name"         ? store::ProjectSort::kName
                  : sort->field == "updated_at" ? store::ProjectSort::kUpdatedAt
                                                : store::ProjectSort::kCreatedAt;
  in.query.descending = sort->descending;
  binding.emplace_back("sort", rest::SortText(*sort));
  const std::string bound = BindingOf(binding);
  auto page = rest::ParsePage(req, bound);
  if (!page) {
    if (auto e = Collect(page.error(), errors)) co_return Fail(req, *e);
  }
  if (auto ok = errors.Finish(); !ok) co_return Fail(req, ok.error());
  in.query.limit = page->limit;
  if (page->after) {
    if (page->after->size() != 2)
      co_return Fail(req, core::Error(core::ErrorCode::kInvalidArgument, "invalid cursor"));
    in.query.after = store::Position{(*page->after)[0], (*page->after)[1]};
  }
  const core::CallContext call = CallOf(req);
  auto result = co_await work.ListProjects(*who, call, std::move(in));
  if (!result) co_return Fail(req, result.error());
  std::vector<std::string> items;
  items.reserve(result->items.size());
  for (const auto& p : result->items) items.push_back(app::ProjectJson(p));
  std::optional<std::string> next;
  if (result->next) next = rest::EncodeCursor({result->next->key, result->next->id}, bound);
  co_return Response::Json(200, rest::ListBody(items, next));
}

asio::awaitable<Response> GetProject(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "project");
  if (org.empty() || id.empty()) co_return NotFound(req);
  const core::CallContext call = CallOf(req);
  auto project = co_await work.GetProject(*who, call, org, id);
  if (!project) co_return Fail(req, project.error());
  if (rest::NotModified(req, project->version)) co_return NotModifiedResponse(project->version);
  co_return WithETag(Response::Json(200, app::ProjectJson(*project)), project->version);
}

asio::awaitable<Response> UpdateProject(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "project");
  if (org.empty() || id.empty()) co_return NotFound(req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(req, if_match.error());
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto name = r.String(
      "name", {.min_len = 1, .max_len = domain::kMaxProjectNameLength, .check = domain::CheckName});
  auto description = r.String(
      "description", {.max_len = domain::kMaxProjectDescriptionLength, .check = domain::CheckText});
  auto archived = r.Bool("archived");
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::UpdateProjectInput in;
  in.org_id = org;
  in.project_id = id;
  in.expected = ExpectedOf(*if_match);
  in.name = name.optional();
  in.description = description.optional();
  in.archived = archived.optional();
  const core::CallContext call = CallOf(req);
  auto project = co_await work.UpdateProject(*who, call, std::move(in));
  if (!project) co_return Fail(req, project.error());
  co_return WithETag(Response::Json(200, app::ProjectJson(*project)), project->version);
}

asio::awaitable<Response> GetProjectSummary(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "project");
  if (org.empty() || id.empty()) co_return NotFound(req);
  const core::CallContext call = CallOf(req);
  auto summary = co_await work.GetProjectSummary(*who, call, org, id);
  if (!summary) co_return Fail(req, summary.error());
  co_return Response::Json(200, app::ProjectSummaryJson(*summary));
}

// --- tasks --------------------------------------------------------------------------------

asio::awaitable<Response> CreateTask(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string project = PathId(req, "project");
  if (org.empty() || project.empty()) co_return NotFound(req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto title = r.String("title", {.required = true,
                                  .min_len = 1,
                                  .max_len = domain::kMaxTaskTitleLength,
                                  .check = domain::CheckName});
  auto description = r.String(
      "description", {.max_len = domain::kMaxTaskDescriptionLength, .check = domain::CheckText});
  auto status = r.String("status", {.max_len = 20, .check = CheckStatus});
  auto priority = r.Int("priority", {.min = domain::kPriorityNone, .max = domain::kPriorityLow});
  auto assignee = r.NullableString("assignee_id", {.max_len = 36, .check = CheckUuid});
  auto due = r.NullableString("due_date", {.max_len = 10, .check = domain::CheckDate});
  auto labels = r.StringArray("labels", {.max_items = domain::kMaxLabels,
                                         .min_len = 1,
                                         .max_len = domain::kMaxLabelLength,
                                         .check = domain::CheckName});
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::CreateTaskInput in;
  in.org_id = org;
  in.project_id = project;
  in.title = *title;
  in.description = description.value_or(std::string());
  if (status.has_value()) in.status = *domain::ParseTaskStatus(*status);
  in.priority = priority.value_or(domain::kPriorityNone);
  if (assignee->HasValue()) in.assignee_id = assignee->Value();
  if (due->HasValue()) in.due_date = due->Value();
  in.labels = labels.value_or(std::vector<std::string>());
  const core::CallContext call = CallOf(req);
  auto task = co_await work.CreateTask(*who, call, std::move(in));
  if (!task) co_return Fail(req, task.error());
  Response res = Response::Json(201, app::TaskJson(*task));
  res.With("Location", std::string(kOrgs) + org + "/tasks/" + task->id);
  co_return WithETag(std::move(res), task->version);
}

asio::awaitable<Response> ListTasks(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string project = PathId(req, "project");
  if (org.empty() || project.empty()) co_return NotFound(req);

  const QueryPairs params = req.QueryPairs();
  domain::FieldErrors errors;
  CheckParams(params,
              {"status", "assignee_id", "label", "priority", "q", "due_before", "due_after", "sort",
               "limit", "cursor"},
              "status", errors);
  app::ListTasksInput in;
  in.org_id = org;
  store::TaskQuery& q = in.query;
  q.project_id = project;
  QueryPairs binding;
  binding.emplace_back("project", project);
  std::string statuses;
  for (const auto& [name, value] : params) {
    if (name == "status") {
      std::string_view rest_of = value;
      while (true) {
        const auto comma = rest_of.find(',');
        const std::string_view one = rest_of.substr(0, comma);
        if (auto s = domain::ParseTaskStatus(one)) {
          bool dup = false;
          for (auto have : q.statuses) dup = dup || have == *s;
          if (!dup) q.statuses.push_back(*s);
        } else {
          errors.Add("/status", std::string(CheckStatus(one)));
          break;
        }
        if (comma == std::string_view::npos) break;
        rest_of.remove_prefix(comma + 1);
      }
    } else if (name == "assignee_id") {
      if (!value.empty() && !core::IsUuid(value)) {
        errors.Add("/assignee_id", "must be a UUID, or empty for unassigned tasks");
      } else {
        q.assignee_id = value;
      }
    } else if (name == "label") {
      domain::FieldErrors one;
      one.CheckString("/label", value, 1, domain::kMaxLabelLength, domain::CheckName);
      if (auto ok = one.Finish(); !ok) {
        for (const auto& f : ok.error().fields) errors.Add(f.pointer, f.detail);
      } else {
        q.label = value;
      }
    } else if (name == "priority") {
      std::int64_t p = -1;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), p);
      if (ec != std::errc() || end != value.data() + value.size() || p < domain::kPriorityNone ||
          p > domain::kPriorityLow) {
        errors.Add("/priority", "must be an integer from 0 to 4");
      } else {
        q.priority = p;
      }
    } else if (name == "q") {
      if (domain::CodePoints(value) > kMaxSearchLength) {
        errors.Add("/q", "must be at most " + std::to_string(kMaxSearchLength) + " characters");
      } else if (store::FtsQuery(value).empty()) {
        errors.Add("/q", "must contain a word");
      } else {
        q.text = value;
      }
    } else if (name == "due_before" || name == "due_after") {
      if (auto detail = domain::CheckDate(value); !detail.empty()) {
        errors.Add(http::JsonPointerTo(name), std::string(detail));
      } else if (name == "due_before") {
        q.due_before = value;
      } else {
        q.due_after = value;
      }
    }
  }
  for (auto s : q.statuses) {
    if (!statuses.empty()) statuses += ',';
    statuses += domain::TaskStatusName(s);
  }
  if (!statuses.empty()) binding.emplace_back("status", statuses);
  if (q.assignee_id) binding.emplace_back("assignee_id", *q.assignee_id);
  if (q.label) binding.emplace_back("label", *q.label);
  if (q.priority) binding.emplace_back("priority", std::to_string(*q.priority));
  if (q.text) binding.emplace_back("q", *q.text);
  if (q.due_before) binding.emplace_back("due_before", *q.due_before);
  if (q.due_after) binding.emplace_back("due_after", *q.due_after);

  rest::Sort fallback;
  fallback.field = "created_at";
  fallback.descending = true;
  auto sort = rest::ParseSort(req, {"created_at", "updated_at", "due_date", "priority"}, fallback);
  if (!sort) {
    // Reported with the other parameters' errors; the fallback keeps the checks going.
    if (auto e = Collect(sort.error(), errors)) co_return Fail(req, *e);
    sort = fallback;
  }
  q.sort = sort->field == "updated_at" ? store::TaskSort::kUpdatedAt
           : sort->field == "due_date" ? store::TaskSort::kDueDate
           : sort->field == "priority" ? store::TaskSort::kPriority
                                       : store::TaskSort::kCreatedAt;
  q.descending = sort->descending;
  binding.emplace_back("sort", rest::SortText(*sort));
  const std::string bound = BindingOf(binding);
  auto page = rest::ParsePage(req, bound);
  if (!page) {
    if (auto e = Collect(page.error(), errors)) co_return Fail(req, *e);
  }
  if (auto ok = errors.Finish(); !ok) co_return Fail(req, ok.error());
  q.limit = page->limit;
  if (page->after) {
    if (page->after->size() != 2)
      co_return Fail(req, core::Error(core::ErrorCode::kInvalidArgument, "invalid cursor"));
    q.after = store::Position{(*page->after)[0], (*page->after)[1]};
  }
  const core::CallContext call = CallOf(req);
  // The items come rendered (and, warm, from the shared cache: ADR 0019).
  auto result = co_await work.ListTaskPage(*who, call, std::move(in));
  if (!result) co_return Fail(req, result.error());
  std::optional<std::string> next;
  if (result->next) next = rest::EncodeCursor({result->next->key, result->next->id}, bound);
  // The list's framing around no items, split at the items' place: the page's items (27 KB
  // for 50 tasks) then go out as they are, not copied into one body (ADR 0027).
  std::string framing = rest::JoinedListBody({}, next);
  const std::size_t items_at = framing.find('[') + 1;
  Response res = Response::Json(200, framing.substr(0, items_at));
  res.body_more.push_back(std::move(result->items));
  res.body_more.push_back(framing.substr(items_at));
  co_return res;
}

asio::awaitable<Response> GetTask(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "task");
  if (org.empty() || id.empty()) co_return NotFound(req);
  const core::CallContext call = CallOf(req);
  auto task = co_await work.GetTask(*who, call, org, id);
  if (!task) co_return Fail(req, task.error());
  if (rest::NotModified(req, task->version)) co_return NotModifiedResponse(task->version);
  co_return WithETag(Response::Json(200, app::TaskJson(*task)), task->version);
}

asio::awaitable<Response> UpdateTask(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "task");
  if (org.empty() || id.empty()) co_return NotFound(req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(req, if_match.error());
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto title = r.String(
      "title", {.min_len = 1, .max_len = domain::kMaxTaskTitleLength, .check = domain::CheckName});
  auto description = r.String(
      "description", {.max_len = domain::kMaxTaskDescriptionLength, .check = domain::CheckText});
  auto status = r.String("status", {.max_len = 20, .check = CheckStatus});
  auto priority = r.Int("priority", {.min = domain::kPriorityNone, .max = domain::kPriorityLow});
  auto assignee = r.NullableString("assignee_id", {.max_len = 36, .check = CheckUuid});
  auto due = r.NullableString("due_date", {.max_len = 10, .check = domain::CheckDate});
  auto labels = r.StringArray("labels", {.max_items = domain::kMaxLabels,
                                         .min_len = 1,
                                         .max_len = domain::kMaxLabelLength,
                                         .check = domain::CheckName});
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::UpdateTaskInput in;
  in.org_id = org;
  in.task_id = id;
  in.expected = ExpectedOf(*if_match);
  in.title = title.optional();
  in.description = description.optional();
  if (status.has_value()) in.status = domain::ParseTaskStatus(*status);
  in.priority = priority.optional();
  if (assignee->IsNull()) in.assignee_id = std::optional<std::string>();
  if (assignee->HasValue()) in.assignee_id = std::optional<std::string>(assignee->Value());
  if (due->IsNull()) in.due_date = std::optional<std::string>();
  if (due->HasValue()) in.due_date = std::optional<std::string>(due->Value());
  in.labels = labels.optional();
  const core::CallContext call = CallOf(req);
  auto task = co_await work.UpdateTask(*who, call, std::move(in));
  if (!task) co_return Fail(req, task.error());
  co_return WithETag(Response::Json(200, app::TaskJson(*task)), task->version);
}

asio::awaitable<Response> DeleteTask(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string id = PathId(req, "task");
  if (org.empty() || id.empty()) co_return NotFound(req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(req, if_match.error());
  app::DeleteTaskInput in;
  in.org_id = org;
  in.task_id = id;
  in.expected = ExpectedOf(*if_match);
  const core::CallContext call = CallOf(req);
  auto done = co_await work.DeleteTask(*who, call, std::move(in));
  if (!done) co_return Fail(req, done.error());
  co_return NoContent();
}

// --- comments -----------------------------------------------------------------------------

asio::awaitable<Response> CreateComment(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string task = PathId(req, "task");
  if (org.empty() || task.empty()) co_return NotFound(req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto text = r.String("body", {.required = true,
                                .min_len = 1,
                                .max_len = domain::kMaxCommentBodyLength,
                                .check = domain::CheckBody});
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::CreateCommentInput in;
  in.org_id = org;
  in.task_id = task;
  in.body = *text;
  const core::CallContext call = CallOf(req);
  auto comment = co_await work.CreateComment(*who, call, std::move(in));
  if (!comment) co_return Fail(req, comment.error());
  Response res = Response::Json(201, app::CommentJson(*comment));
  res.With("Location", std::string(kOrgs) + org + "/tasks/" + task + "/comments/" + comment->id);
  co_return WithETag(std::move(res), comment->version);
}

asio::awaitable<Response> ListComments(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string task = PathId(req, "task");
  if (org.empty() || task.empty()) co_return NotFound(req);
  domain::FieldErrors errors;
  CheckParams(req.QueryPairs(), {"limit", "cursor"}, "", errors);
  QueryPairs binding;
  binding.emplace_back("task", task);
  const std::string bound = BindingOf(binding);
  auto page = rest::ParsePage(req, bound);
  if (!page) {
    if (auto e = Collect(page.error(), errors)) co_return Fail(req, *e);
  }
  if (auto ok = errors.Finish(); !ok) co_return Fail(req, ok.error());
  app::ListCommentsInput in;
  in.org_id = org;
  in.query.task_id = task;
  in.query.limit = page->limit;
  if (page->after) {
    if (page->after->size() != 2)
      co_return Fail(req, core::Error(core::ErrorCode::kInvalidArgument, "invalid cursor"));
    in.query.after = store::Position{(*page->after)[0], (*page->after)[1]};
  }
  const core::CallContext call = CallOf(req);
  auto result = co_await work.ListComments(*who, call, std::move(in));
  if (!result) co_return Fail(req, result.error());
  std::vector<std::string> items;
  items.reserve(result->items.size());
  for (const auto& c : result->items) items.push_back(app::CommentJson(c));
  std::optional<std::string> next;
  if (result->next) next = rest::EncodeCursor({result->next->key, result->next->id}, bound);
  co_return Response::Json(200, rest::ListBody(items, next));
}

asio::awaitable<Response> UpdateComment(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string task = PathId(req, "task");
  const std::string id = PathId(req, "comment");
  if (org.empty() || task.empty() || id.empty()) co_return NotFound(req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(req, if_match.error());
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(req, body.error());
  http::JsonReader r(*body);
  auto text = r.String("body", {.required = true,
                                .min_len = 1,
                                .max_len = domain::kMaxCommentBodyLength,
                                .check = domain::CheckBody});
  if (auto ok = r.Finish(); !ok) co_return Fail(req, ok.error());
  app::UpdateCommentInput in;
  in.org_id = org;
  in.task_id = task;
  in.comment_id = id;
  in.expected = ExpectedOf(*if_match);
  in.body = *text;
  const core::CallContext call = CallOf(req);
  auto comment = co_await work.UpdateComment(*who, call, std::move(in));
  if (!comment) co_return Fail(req, comment.error());
  co_return WithETag(Response::Json(200, app::CommentJson(*comment)), comment->version);
}

asio::awaitable<Response> DeleteComment(app::WorkApp& work, Request& req) {
  const auto who = req.ctx.principal;
  if (!who) co_return Unauthenticated(req);
  const std::string org = PathId(req, "org");
  const std::string task = PathId(req, "task");
  const std::string id = PathId(req, "comment");
  if (org.empty() || task.empty() || id.empty()) co_return NotFound(req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(req, if_match.error());
  app::DeleteCommentInput in;
  in.org_id = org;
  in.task_id = task;
  in.comment_id = id;
  in.expected = ExpectedOf(*if_match);
  const core::CallContext call = CallOf(req);
  auto done = co_await work.DeleteComment(*who, call, std::move(in));
  if (!done) co_return Fail(req, done.error());
  co_return NoContent();
}

using Use = asio::awaitable<Response> (*)(app::WorkApp&, Request&);

http::Handler Bind(app::WorkApp& work, Use use) {
  return [&work, use](Request& req) { return use(work, req); };
}

}  // namespace

void AddWorkRoutes(http::Router& router, app::WorkApp& work, rest::Idempotency& idempotency) {
  constexpr std::string_view kProjects = "/api/v1/orgs/{org}/projects";
  constexpr std::string_view kProject = "/api/v1/orgs/{org}/projects/{project}";
  constexpr std::string_view kProjectTasks = "/api/v1/orgs/{org}/projects/{project}/tasks";
  constexpr std::string_view kProjectSummary = "/api/v1/orgs/{org}/projects/{project}/summary";
  constexpr std::string_view kTask = "/api/v1/orgs/{org}/tasks/{task}";
  constexpr std::string_view kComments = "/api/v1/orgs/{org}/tasks/{task}/comments";
  constexpr std::string_view kComment = "/api/v1/orgs/{org}/tasks/{task}/comments/{comment}";

  router.Add(Method::kGet, kProjects, Bind(work, ListProjects));
  router.Add(Method::kPost, kProjects, idempotency.Wrap(Bind(work, CreateProject)));
  router.Add(Method::kGet, kProject, Bind(work, GetProject));
  router.Add(Method::kPatch, kProject, Bind(work, UpdateProject));
  router.Add(Method::kGet, kProjectSummary, Bind(work, GetProjectSummary));
  router.Add(Method::kGet, kProjectTasks, Bind(work, ListTasks));
  router.Add(Method::kPost, kProjectTasks, idempotency.Wrap(Bind(work, CreateTask)));
  router.Add(Method::kGet, kTask, Bind(work, GetTask));
  router.Add(Method::kPatch, kTask, Bind(work, UpdateTask));
  router.Add(Method::kDelete, kTask, Bind(work, DeleteTask));
  router.Add(Method::kGet, kComments, Bind(work, ListComments));
  router.Add(Method::kPost, kComments, idempotency.Wrap(Bind(work, CreateComment)));
  router.Add(Method::kPatch, kComment, Bind(work, UpdateComment));
  router.Add(Method::kDelete, kComment, Bind(work, DeleteComment));
}

}  // namespace trellis::work::api
