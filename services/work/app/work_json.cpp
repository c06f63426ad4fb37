#include "services/work/app/work_json.hpp"

#include "platform/core/time_format.hpp"
#include "platform/http/json_body.hpp"

namespace trellis::work::app {

using platform::core::FormatRfc3339Ms;
using platform::http::JsonWriter;

namespace {

// The project as a JSON object, where a value may stand (whole body or nested).
void WriteProject(JsonWriter& w, const domain::Project& p) {
  w.BeginObject();
  w.Key("id").String(p.id).Key("org_id").String(p.org_id);
  w.Key("name").String(p.name).Key("description").String(p.description);
  w.Key("archived").Bool(p.archived).Key("created_by").String(p.created_by);
  w.Key("created_at").String(FormatRfc3339Ms(p.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(p.updated_at_ms));
  w.Key("version").Int(p.version);
  w.EndObject();
}

}  // namespace

std::string ProjectJson(const domain::Project& p) {
  JsonWriter w;
  WriteProject(w, p);
  return std::move(w).Take();
}

std::string TaskJson(const domain::Task& t) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(t.id).Key("org_id").String(t.org_id).Key("project_id").String(t.project_id);
  w.Key("title").String(t.title).Key("description").String(t.description);
  w.Key("status").String(domain::TaskStatusName(t.status)).Key("priority").Int(t.priority);
  w.Key("assignee_id");
  if (t.assignee_id) {
    w.String(*t.assignee_id);
  } else {
    w.Null();
  }
  w.Key("due_date");
  if (t.due_date) {
    w.String(*t.due_date);
  } else {
    w.Null();
  }
  w.Key("labels").BeginArray();
  for (const std::string& label : t.labels) w.String(label);
  w.EndArray();
  w.Key("created_by").String(t.created_by);
  w.Key("created_at").String(FormatRfc3339Ms(t.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(t.updated_at_ms));
  w.Key("version").Int(t.version);
  return std::move(w.EndObject()).Take();
}

std::string CommentJson(const domain::Comment& c) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(c.id).Key("org_id").String(c.org_id).Key("task_id").String(c.task_id);
  w.Key("author_id").String(c.author_id).Key("body").String(c.body);
  w.Key("created_at").String(FormatRfc3339Ms(c.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(c.updated_at_ms));
  w.Key("version").Int(c.version);
  return std::move(w.EndObject()).Take();
}

std::string ProjectSummaryJson(const store::ProjectSummary& s) {
  JsonWriter w;
  w.BeginObject();
  w.Key("project");
  WriteProject(w, s.project);
  w.Key("tasks").BeginObject();
  w.Key("todo").Int(s.todo).Key("in_progress").Int(s.in_progress);
  w.Key("done").Int(s.done).Key("canceled").Int(s.canceled);
  w.Key("overdue").Int(s.overdue).Key("unassigned").Int(s.unassigned);
  w.Key("urgent_or_high").Int(s.urgent_or_high);
  w.EndObject();
  w.Key("recent_comments").Int(s.recent_comments);
  w.Key("recent_tasks").BeginArray();
  for (const store::RecentTask& t : s.recent) {
    w.BeginObject();
    w.Key("id").String(t.id).Key("title").String(t.title);
    w.Key("status").String(domain::TaskStatusName(t.status));
    w.Key("updated_at").String(FormatRfc3339Ms(t.updated_at_ms));
    w.EndObject();
  }
  w.EndArray();
  return std::move(w.EndObject()).Take();
}

}  // namespace trellis::work::app
