// What travels with every internal call: the caller's remaining budget and the request's
// identity. In-process calls read it directly; the gRPC transport (split shape) sends it as
// the deadline and metadata, so callers never change.
//
//   CallContext call{.deadline = req.ctx.deadline, .request_id = req.ctx.request_id};
//   auto member = co_await identity.GetMembership(request, call);
#pragma once

#include <memory>
#include <string>

#include "platform/core/clock.hpp"
#include "platform/core/write_position.hpp"

namespace trellis::platform::core {

struct CallContext {
  Clock::MonoTime deadline = Clock::MonoTime::max();
  std::string request_id;
  std::string traceparent;  // W3C trace context of the calling span, if any
  // The caller's read-your-writes position (write_position.hpp); null: reads go to the primary.
  std::shared_ptr<WritePosition> written;
};

}  // namespace trellis::platform::core
