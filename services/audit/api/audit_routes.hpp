// The audit context's public REST route:
//   GET /api/v1/orgs/{org}/audit-events?actor=&action=&since=&until=&limit=&cursor=
// newest first; since (inclusive) and until (exclusive) are RFC 3339 date-times; an empty
// parameter counts as absent. Each invalid parameter is one entry of a 422 problem.
//
//   AddAuditRoutes(router, audit_app);
#pragma once

#include "platform/http/router.hpp"
#include "services/audit/app/audit_app.hpp"

namespace trellis::audit::api {

void AddAuditRoutes(platform::http::Router& router, app::AuditApp& app);

// One audit entry as the API shows it.
[[nodiscard]] std::string AuditEventJson(const domain::AuditEvent& entry);

}  // namespace trellis::audit::api
