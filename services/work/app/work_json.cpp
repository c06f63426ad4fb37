#include "services/work/app/work_json.hpp"

#include "platform/core/time_format.hpp"
#include "platform/http/json_body.hpp"

namespace trellis::work::app {

using platform::core::FormatRfc3339Ms;
using platform::http::JsonWriter;

std::string ProjectJson(const domain::Project& p) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(p.id).Key("org_id").String(p.org_id);
  w.Key("name").String(p.name).Key("description").String(p.description);
  w.Key("archived").Bool(p.archived).Key("created_by").String(p.created_by);
  w.Key("created_at").String(FormatRfc3339Ms(p.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(p.updated_at_ms));
  w.Key("version").Int(p.version);
  return std::move(w.EndObject()).Take();
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

}  // namespace trellis::work::app
