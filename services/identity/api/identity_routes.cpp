#include "services/identity/api/identity_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <string>
#include <utility>

#include "platform/http/consistency.hpp"
#include "platform/http/json_body.hpp"
#include "platform/http/problem.hpp"
#include "platform/rest/rest.hpp"
#include "services/identity/app/views.hpp"

namespace trellis::identity::api {

namespace asio = boost::asio;
namespace http = platform::http;
namespace rest = platform::rest;
using platform::core::Error;
using platform::core::ErrorCode;
using platform::core::Principal;
using platform::core::Role;
using platform::http::JsonReader;
using platform::http::Request;
using platform::http::Response;

namespace {

constexpr std::size_t kMaxNameLength = 100;
constexpr std::size_t kMaxEmailLength = 254;

Response Fail(const Error& error, const Request& req) {
  return http::Problem(error, req.path, req.ctx.request_id);
}

using platform::http::CallOf;

const Principal* Caller(const Request& req) { return req.ctx.principal.get(); }

Error Unauthenticated() { return Error(ErrorCode::kUnauthenticated, "sign in first"); }

Response Resource(int status, std::string body, std::int64_t version) {
  return Response::Json(status, std::move(body)).With("ETag", rest::ETag(version));
}

std::string_view RoleCheck(std::string_view role) {
  return platform::core::ParseRole(role) ? std::string_view()
                                         : "must be owner, admin, member or viewer";
}

app::VersionCheck Check(rest::IfMatch m) {
  return [m = std::move(m)](std::int64_t v) { return m.Matches(v); };
}

// Keyset pages over ids: the cursor carries the last id.
struct IdPage {
  int limit = rest::kDefaultLimit;
  std::string after;
};
// `binding` names the list (and its org), so a cursor of one list is refused by another.
platform::core::Result<IdPage> ParseIdPage(const Request& req, const std::string& binding) {
  auto page = rest::ParsePage(req, binding);
  if (!page) return std::unexpected(page.error());
  IdPage out;
  out.limit = page->limit;
  if (page->after && !page->after->empty()) out.after = page->after->front();
  return out;
}
std::optional<std::string> CursorAfter(const std::optional<std::string>& next_after,
                                       const std::string& binding) {
  if (!next_after) return std::nullopt;
  return rest::EncodeCursor({*next_after}, binding);
}
std::string Binding(std::string_view list, const Request& req) {
  return std::string(list) + ":" + std::string(req.Param("org"));
}

asio::awaitable<Response> GetMe(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto me = co_await app.GetMe(*who, CallOf(req));
  if (!me) co_return Fail(me.error(), req);
  // The views are JSON texts already; JsonWriter has no raw-value call, so they are spliced.
  std::string body = std::string(R"({"kind":")") + (who->IsApiKey() ? "api_key" : "user") +
                     R"(","user":)" + (me->user ? app::UserJson(*me->user) : "null");
  if (me->api_key) body += R"(,"api_key":)" + app::ApiKeyJson(*me->api_key);
  body += "}";
  co_return Response::Json(200, std::move(body));
}

asio::awaitable<Response> CreateOrg(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(body.error(), req);
  JsonReader r(*body);
  auto name = r.String("name", {.required = true, .min_len = 1, .max_len = kMaxNameLength});
  auto slug = r.String(
      "slug",
      {.required = true, .min_len = 3, .max_len = 40, .check = identity::domain::CheckSlug});
  if (auto ok = r.Finish(); !ok) co_return Fail(ok.error(), req);
  app::CreateOrgInput input;
  input.name = *name;
  input.slug = *slug;
  auto created = co_await app.CreateOrg(*who, CallOf(req), std::move(input));
  if (!created) co_return Fail(created.error(), req);
  co_return Resource(201, app::OrgJson(created->org, created->role), created->org.version)
      .With("Location", "/api/v1/orgs/" + created->org.id);
}

asio::awaitable<Response> ListOrgs(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  const std::string binding = "orgs";
  auto page = ParseIdPage(req, binding);
  if (!page) co_return Fail(page.error(), req);
  auto orgs = co_await app.ListMyOrgs(*who, CallOf(req), page->after, page->limit);
  if (!orgs) co_return Fail(orgs.error(), req);
  std::vector<std::string> items;
  for (const auto& o : orgs->items) items.push_back(app::OrgJson(o.org, o.role));
  co_return Response::Json(200, rest::ListBody(items, CursorAfter(orgs->next_after, binding)));
}

asio::awaitable<Response> GetOrg(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto org = co_await app.GetOrg(*who, CallOf(req), std::string(req.Param("org")));
  if (!org) co_return Fail(org.error(), req);
  if (rest::NotModified(req, org->org.version)) {
    co_return Response::Text(304, "").With("ETag", rest::ETag(org->org.version));
  }
  co_return Resource(200, app::OrgJson(org->org, org->role), org->org.version);
}

asio::awaitable<Response> UpdateOrg(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(body.error(), req);
  JsonReader r(*body);
  auto name = r.String("name", {.min_len = 1, .max_len = kMaxNameLength});
  auto slug = r.String("slug", {.min_len = 3, .max_len = 40, .check = identity::domain::CheckSlug});
  if (auto ok = r.Finish(); !ok) co_return Fail(ok.error(), req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(if_match.error(), req);
  app::UpdateOrgInput input;
  input.name = name.optional();
  input.slug = slug.optional();
  auto org = co_await app.UpdateOrg(*who, CallOf(req), std::string(req.Param("org")),
                                    std::move(input), Check(std::move(*if_match)));
  if (!org) co_return Fail(org.error(), req);
  co_return Resource(200, app::OrgJson(*org, std::nullopt), org->version);
}

asio::awaitable<Response> ListMembers(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  const std::string binding = Binding("members", req);
  auto page = ParseIdPage(req, binding);
  if (!page) co_return Fail(page.error(), req);
  auto members = co_await app.ListMembers(*who, CallOf(req), std::string(req.Param("org")),
                                          page->after, page->limit);
  if (!members) co_return Fail(members.error(), req);
  std::vector<std::string> items;
  for (const auto& m : members->items) items.push_back(app::MemberJson(m));
  co_return Response::Json(200, rest::ListBody(items, CursorAfter(members->next_after, binding)));
}

asio::awaitable<Response> InviteMember(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(body.error(), req);
  JsonReader r(*body);
  auto email = r.String("email", {.required = true,
                                  .min_len = 3,
                                  .max_len = kMaxEmailLength,
                                  .check = identity::domain::CheckEmail});
  auto role = r.String("role", {.required = true, .max_len = 10, .check = RoleCheck});
  if (auto ok = r.Finish(); !ok) co_return Fail(ok.error(), req);
  app::InviteInput input;
  input.email = *email;
  input.role = *platform::core::ParseRole(*role);
  const std::string org_id(req.Param("org"));
  auto member = co_await app.InviteMember(*who, CallOf(req), org_id, std::move(input));
  if (!member) co_return Fail(member.error(), req);
  co_return Resource(201, app::MemberJson(*member), member->version)
      .With("Location", "/api/v1/orgs/" + org_id + "/members/" + member->id);
}

asio::awaitable<Response> ChangeMember(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(body.error(), req);
  JsonReader r(*body);
  auto role = r.String("role", {.required = true, .max_len = 10, .check = RoleCheck});
  if (auto ok = r.Finish(); !ok) co_return Fail(ok.error(), req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(if_match.error(), req);
  auto member = co_await app.ChangeMemberRole(
      *who, CallOf(req), std::string(req.Param("org")), std::string(req.Param("member")),
      *platform::core::ParseRole(*role), Check(std::move(*if_match)));
  if (!member) co_return Fail(member.error(), req);
  co_return Resource(200, app::MemberJson(*member), member->version);
}

asio::awaitable<Response> RemoveMember(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(if_match.error(), req);
  auto removed =
      co_await app.RemoveMember(*who, CallOf(req), std::string(req.Param("org")),
                                std::string(req.Param("member")), Check(std::move(*if_match)));
  if (!removed) co_return Fail(removed.error(), req);
  co_return Response::Text(204, "");
}

asio::awaitable<Response> ListKeys(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  const std::string binding = Binding("api-keys", req);
  auto page = ParseIdPage(req, binding);
  if (!page) co_return Fail(page.error(), req);
  auto keys = co_await app.ListApiKeys(*who, CallOf(req), std::string(req.Param("org")),
                                       page->after, page->limit);
  if (!keys) co_return Fail(keys.error(), req);
  std::vector<std::string> items;
  for (const auto& k : keys->items) items.push_back(app::ApiKeyJson(k));
  co_return Response::Json(200, rest::ListBody(items, CursorAfter(keys->next_after, binding)));
}

asio::awaitable<Response> CreateKey(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  if (req.FindHeader("idempotency-key")) {
    // Replaying this response would mean storing the secret; only its hash is ever kept.
    co_return Fail(Error(ErrorCode::kInvalidArgument,
                         "Idempotency-Key is not accepted when creating an API key: the "
                         "response holds a secret that is never stored; list the keys to see "
                         "whether a create went through"),
                   req);
  }
  auto body = http::ParseJsonBody(req);
  if (!body) co_return Fail(body.error(), req);
  JsonReader r(*body);
  auto name = r.String("name", {.required = true, .min_len = 1, .max_len = kMaxNameLength});
  auto role = r.String("role", {.required = true, .max_len = 10, .check = RoleCheck});
  if (auto ok = r.Finish(); !ok) co_return Fail(ok.error(), req);
  app::CreateApiKeyInput input;
  input.name = *name;
  input.role = *platform::core::ParseRole(*role);
  const std::string org_id(req.Param("org"));
  auto created = co_await app.CreateApiKey(*who, CallOf(req), org_id, std::move(input));
  if (!created) co_return Fail(created.error(), req);
  co_return Resource(201, app::ApiKeyJson(created->key, created->secret), created->key.version)
      .With("Location", "/api/v1/orgs/" + org_id + "/api-keys/" + created->key.id)
      .With("Cache-Control", "no-store");
}

asio::awaitable<Response> RevokeKey(app::IdentityApp& app, Request& req) {
  const Principal* who = Caller(req);
  if (!who) co_return Fail(Unauthenticated(), req);
  auto if_match = rest::RequireIfMatch(req);
  if (!if_match) co_return Fail(if_match.error(), req);
  auto key = co_await app.RevokeApiKey(*who, CallOf(req), std::string(req.Param("org")),
                                       std::string(req.Param("key")), Check(std::move(*if_match)));
  if (!key) co_return Fail(key.error(), req);
  co_return Response::Text(204, "");
}

}  // namespace

void AddIdentityRoutes(http::Router& router, app::IdentityApp& app,
                       rest::Idempotency& idempotency) {
  using http::Method;
  auto bind = [&app](asio::awaitable<Response> (*fn)(app::IdentityApp&, Request&)) {
    return http::Handler([&app, fn](Request& req) { return fn(app, req); });
  };
  router.Add(Method::kGet, "/api/v1/me", bind(GetMe));
  router.Add(Method::kPost, "/api/v1/orgs", idempotency.Wrap(bind(CreateOrg)));
  router.Add(Method::kGet, "/api/v1/orgs", bind(ListOrgs));
  router.Add(Method::kGet, "/api/v1/orgs/{org}", bind(GetOrg));
  router.Add(Method::kPatch, "/api/v1/orgs/{org}", bind(UpdateOrg));
  router.Add(Method::kGet, "/api/v1/orgs/{org}/members", bind(ListMembers));
  router.Add(Method::kPost, "/api/v1/orgs/{org}/members", idempotency.Wrap(bind(InviteMember)));
  router.Add(Method::kPatch, "/api/v1/orgs/{org}/members/{member}", bind(ChangeMember));
  router.Add(Method::kDelete, "/api/v1/orgs/{org}/members/{member}", bind(RemoveMember));
  router.Add(Method::kGet, "/api/v1/orgs/{org}/api-keys", bind(ListKeys));
  router.Add(Method::kPost, "/api/v1/orgs/{org}/api-keys", bind(CreateKey));
  router.Add(Method::kDelete, "/api/v1/orgs/{org}/api-keys/{key}", bind(RevokeKey));
}

}  // namespace trellis::identity::api
