// What travels with every internal call: the caller's remaining budget and the request's
// identity. In-process calls read it directly; the gRPC transport (split shape) sends it as
// the deadline and metadata, so callers never change.
//
//   CallContext call{.deadline = req.ctx.deadline, .request_id = req.ctx.request_id};
//   auto member = co_await identity.GetMembership(request, call);
#pragma once

#include <string>

#include "platform/core/clock.hpp"

namespace trellis::platform::core {

struct CallContext {
  Clock::MonoTime deadline = Clock::MonoTime::max();
  std::string request_id;
  std::string traceparent;  // W3C trace context of the calling span, if any
};

}  // namespace trellis::platform::core
