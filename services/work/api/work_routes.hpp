// The work context's public routes: thin handlers that parse the path, query and JSON body,
// call one WorkApp use case and map its result to a response or problem+json.
//
//   AddWorkRoutes(router, work_app, idempotency);   // before the server starts
//
// Routes (all need req.ctx.principal; without one: 401):
//   GET,POST  /api/v1/orgs/{org}/projects
//   GET,PATCH /api/v1/orgs/{org}/projects/{project}          archive: PATCH {"archived": true}
//   GET,POST  /api/v1/orgs/{org}/projects/{project}/tasks
//   GET,PATCH,DELETE /api/v1/orgs/{org}/tasks/{task}
//   GET,POST  /api/v1/orgs/{org}/tasks/{task}/comments
//   PATCH,DELETE /api/v1/orgs/{org}/tasks/{task}/comments/{comment}
//
// Conventions: single-resource responses carry ETag (If-None-Match gives 304); PATCH and
// DELETE need If-Match (428 without, 412 on a stale version); POST answers 201 with Location
// and ETag and is wrapped by Idempotency; lists are {"items":[…],"next_cursor":…}. Query
// parameters a list does not define, or a single-valued one given twice, are 422 with a field
// error at "/<name>", like unknown body fields. Ids in the path that are not UUIDs are 404.
#pragma once

#include "platform/http/router.hpp"
#include "platform/rest/idempotency.hpp"
#include "services/work/app/work_app.hpp"

namespace trellis::work::api {

void AddWorkRoutes(platform::http::Router& router, app::WorkApp& work,
                   platform::rest::Idempotency& idempotency);

}  // namespace trellis::work::api
