// The identity context's public REST routes (/api/v1/me, orgs, members, API keys): thin
// handlers that parse, call one use case and map its result. Rules live in app/ and domain/.
//
//   AddIdentityRoutes(router, app, idempotency);
#pragma once

#include "platform/http/router.hpp"
#include "platform/rest/idempotency.hpp"
#include "services/identity/app/identity_app.hpp"

namespace trellis::identity::api {

void AddIdentityRoutes(platform::http::Router& router, app::IdentityApp& app,
                       platform::rest::Idempotency& idempotency);

}  // namespace trellis::identity::api
