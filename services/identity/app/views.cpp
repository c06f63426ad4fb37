#include "services/identity/app/views.hpp"

#include "platform/core/time_format.hpp"
#include "platform/http/json_body.hpp"

namespace trellis::identity::app {

using platform::core::FormatRfc3339Ms;
using platform::core::RoleName;
using platform::http::JsonWriter;

std::string UserJson(const domain::User& u) {
  JsonWriter w;
  w.BeginObject().Key("id").String(u.id).Key("email").String(u.email).Key("name").String(u.name);
  w.Key("created_at").String(FormatRfc3339Ms(u.created_at_ms));
  return std::move(w.EndObject()).Take();
}

std::string OrgJson(const domain::Org& o, std::optional<domain::Role> role) {
  JsonWriter w;
  w.BeginObject().Key("id").String(o.id).Key("slug").String(o.slug).Key("name").String(o.name);
  w.Key("created_by").String(o.created_by);
  w.Key("created_at").String(FormatRfc3339Ms(o.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(o.updated_at_ms));
  w.Key("version").Int(o.version);
  if (role) w.Key("role").String(RoleName(*role));
  return std::move(w.EndObject()).Take();
}

std::string MemberJson(const domain::Member& m) {
  JsonWriter w;
  w.BeginObject().Key("id").String(m.id).Key("org_id").String(m.org_id).Key("user_id");
  if (m.user_id.empty()) {
    w.Null();
  } else {
    w.String(m.user_id);
  }
  w.Key("email").String(m.email).Key("role").String(RoleName(m.role));
  w.Key("status").String(domain::StatusName(m.status)).Key("invited_by").String(m.invited_by);
  w.Key("created_at").String(FormatRfc3339Ms(m.created_at_ms));
  w.Key("updated_at").String(FormatRfc3339Ms(m.updated_at_ms));
  w.Key("version").Int(m.version);
  return std::move(w.EndObject()).Take();
}

std::string ApiKeyJson(const domain::ApiKey& k, const std::optional<std::string>& secret) {
  JsonWriter w;
  w.BeginObject().Key("id").String(k.id).Key("org_id").String(k.org_id);
  w.Key("name").String(k.name).Key("role").String(RoleName(k.role));
  w.Key("prefix").String(k.prefix).Key("created_by").String(k.created_by);
  w.Key("created_at").String(FormatRfc3339Ms(k.created_at_ms)).Key("revoked_at");
  if (k.revoked_at_ms) {
    w.String(FormatRfc3339Ms(*k.revoked_at_ms));
  } else {
    w.Null();
  }
  w.Key("version").Int(k.version);
  if (secret) w.Key("secret").String(*secret);
  return std::move(w.EndObject()).Take();
}

}  // namespace trellis::identity::app
