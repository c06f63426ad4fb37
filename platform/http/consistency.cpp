#include "platform/http/consistency.hpp"

#include <memory>
#include <string>

#include "platform/http/problem.hpp"

namespace trellis::platform::http {

boost::asio::awaitable<Response> ConsistencyMiddleware::Handle(Request& req, Next next) {
  std::uint64_t start = 0;
  if (auto token = req.FindHeader(kConsistencyHeader)) {
    auto parsed = core::WritePosition::Parse(*token);
    if (!parsed) {
      co_return Problem(core::Error(core::ErrorCode::kInvalidArgument,
                                    "Trellis-Consistency must be a token from an earlier "
                                    "response, as it was given"),
                        req.path, req.ctx.request_id);
    }
    start = *parsed;
  }
  auto written = std::make_shared<core::WritePosition>(start);
  req.ctx.written = written;
  Response response = co_await next(req);
  if (const std::uint64_t reached = written->Get(); reached > start) {
    response.With(std::string(kConsistencyHeader), core::WritePosition::Format(reached));
  }
  co_return response;
}

core::CallContext CallOf(const Request& req) {
  core::CallContext call;
  call.deadline =
      req.ctx.deadline == core::Clock::MonoTime{} ? core::Clock::MonoTime::max() : req.ctx.deadline;
  call.request_id = req.ctx.request_id;
  if (!req.ctx.trace.trace_id.empty()) call.traceparent = req.ctx.trace.ToHeader();
  call.written = req.ctx.written;
  return call;
}

}  // namespace trellis::platform::http
