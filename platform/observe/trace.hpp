// W3C Trace Context (traceparent): parse what a caller sent, start our own span under it, and
// format the header for outbound calls.
//
//   TraceContext t = TraceContext::FromHeader(request.HeaderValue("traceparent"));
//   outbound.Set("traceparent", t.ToHeader());
#pragma once

#include <string>
#include <string_view>

namespace trellis::platform::observe {

struct TraceContext {
  std::string trace_id;   // 32 lowercase hex
  std::string span_id;    // 16 lowercase hex: this server's span
  std::string parent_id;  // 16 lowercase hex: the caller's span, empty when we started the trace
  bool sampled = false;

  // Continues the caller's trace when `header` is a valid version-00 traceparent, else starts
  // a new one. Always assigns a fresh span id.
  [[nodiscard]] static TraceContext FromHeader(std::string_view header);
  // "00-<trace_id>-<span_id>-<flags>"
  [[nodiscard]] std::string ToHeader() const;
};

}  // namespace trellis::platform::observe
