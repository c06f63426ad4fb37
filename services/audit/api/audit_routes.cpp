#include "services/audit/api/audit_routes.hpp"

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "platform/core/time_format.hpp"
#include "platform/http/consistency.hpp"
#include "platform/http/json_body.hpp"
#include "platform/http/problem.hpp"
#include "platform/rest/rest.hpp"

namespace trellis::audit::api {

namespace asio = boost::asio;
namespace core = platform::core;
namespace http = platform::http;
namespace rest = platform::rest;
using core::Error;
using core::ErrorCode;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kTimeDetail =
    "must be an RFC 3339 date-time such as 2026-11-24T10:00:00.000Z";

Response Fail(const Error& error, const Request& req) {
  return http::Problem(error, req.path, req.ctx.request_id);
}

using platform::http::CallOf;

// A query parameter; empty counts as absent.
std::optional<std::string> Param(const Request& req, std::string_view name) {
  auto v = req.QueryParam(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// What a cursor is bound to: the normalized filters, so it cannot be replayed with others.
std::string Binding(const app::AuditQuery& query) {
  const std::string since = query.filter.since_ms ? std::to_string(*query.filter.since_ms) : "";
  const std::string until = query.filter.until_ms ? std::to_string(*query.filter.until_ms) : "";
  return rest::Binding({{"actor", query.filter.actor.value_or("")},
                        {"action", query.filter.action.value_or("")},
                        {"since", since},
                        {"until", until}});
}

// The query's filters and page, or 422 with one field error per invalid parameter (400 for a
// cursor that is not ours).
core::Result<app::AuditQuery> ParseQuery(const Request& req) {
  app::AuditQuery query;
  std::vector<core::FieldError> errors;
  if (auto actor = Param(req, "actor")) {
    if (auto why = domain::CheckActor(*actor); !why.empty()) {
      errors.push_back({"/actor", std::string(why)});
    } else {
      query.filter.actor = std::move(*actor);
    }
  }
  if (auto action = Param(req, "action")) {
    if (auto why = domain::CheckAction(*action); !why.empty()) {
      errors.push_back({"/action", std::string(why)});
    } else {
      query.filter.action = std::move(*action);
    }
  }
  for (auto [name, out] :
       {std::pair<std::string_view, std::optional<std::int64_t>*>{"since", &query.filter.since_ms},
        {"until", &query.filter.until_ms}}) {
    if (auto text = Param(req, name)) {
      auto ms = core::ParseRfc3339Ms(*text);
      if (!ms) {
        errors.push_back({"/" + std::string(name), std::string(kTimeDetail)});
      } else {
        *out = *ms;
      }
    }
  }
  if (query.filter.since_ms && query.filter.until_ms &&
      *query.filter.since_ms > *query.filter.until_ms) {
    errors.push_back({"/until", "must not be before since"});
  }

  const std::string binding = Binding(query);
  auto page = rest::ParsePage(req, binding);
  if (!page) {
    if (page.error().code != ErrorCode::kValidation) return std::unexpected(page.error());
    for (const auto& f : page.error().fields) errors.push_back(f);
  } else {
    query.limit = page->limit;
    if (page->after) {
      std::int64_t seq = 0;
      const std::string text = page->after->size() == 1 ? page->after->front() : std::string();
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return core::Fail(ErrorCode::kInvalidArgument, "invalid cursor");
      }
      query.before_seq = seq;
    }
  }
  if (!errors.empty()) {
    Error error(ErrorCode::kValidation, "invalid query parameters");
    error.fields = std::move(errors);
    return std::unexpected(std::move(error));
  }
  return query;
}

asio::awaitable<Response> ListAuditEvents(app::AuditApp& app, Request& req) {
  const core::Principal* who = req.ctx.principal.get();
  if (!who) co_return Fail(Error(ErrorCode::kUnauthenticated, "sign in first"), req);
  auto query = ParseQuery(req);
  if (!query) co_return Fail(query.error(), req);
  const std::string binding = Binding(*query);
  auto page =
      co_await app.ListAuditEvents(*who, CallOf(req), std::string(req.Param("org")), *query);
  if (!page) co_return Fail(page.error(), req);
  std::vector<std::string> items;
  items.reserve(page->items.size());
  for (const auto& e : page->items) items.push_back(AuditEventJson(e));
  std::optional<std::string> next;
  if (page->next_before_seq) {
    next = rest::EncodeCursor({std::to_string(*page->next_before_seq)}, binding);
  }
  co_return Response::Json(200, rest::ListBody(items, next)).With("Cache-Control", "no-store");
}

}  // namespace

std::string AuditEventJson(const domain::AuditEvent& entry) {
  http::JsonWriter w;
  w.BeginObject()
      .Key("id")
      .String(entry.id)
      .Key("org_id")
      .String(entry.org_id)
      .Key("action")
      .String(entry.action)
      .Key("actor_id")
      .String(entry.actor_id)
      .Key("subject_id")
      .String(entry.subject_id)
      .Key("occurred_at")
      .String(core::FormatRfc3339Ms(entry.occurred_at_ms))
      .Key("payload")
      .Null();
  // JsonWriter has no raw-value call: write null, then splice the stored object in its place
  // (the projection stored it as a JSON object).
  std::string out = std::move(w.EndObject()).Take();
  constexpr std::string_view kNullEnd = "null}";
  out.resize(out.size() - kNullEnd.size());
  out += entry.payload;
  out += '}';
  return out;
}

void AddAuditRoutes(http::Router& router, app::AuditApp& app) {
  router.Add(http::Method::kGet, "/api/v1/orgs/{org}/audit-events",
             [&app](Request& req) { return ListAuditEvents(app, req); });
}

}  // namespace trellis::audit::api
