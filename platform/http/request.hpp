// An HTTP request as handlers see it: views into the connection's parsed message, valid until
// the handler's response has been written.
//
//   Response Get(Request& req) {
//     auto id = req.Param("id");
//     auto accept = req.HeaderValue("accept");
//   }
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/principal.hpp"
#include "platform/core/write_position.hpp"
#include "platform/observe/trace.hpp"

namespace trellis::platform::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

[[nodiscard]] Method ParseMethod(std::string_view text);
[[nodiscard]] std::string_view MethodName(Method m);

struct Header {
  std::string_view name;
  std::string_view value;
};

// What the edge knows about a request besides its bytes.
struct RequestContext {
  std::string request_id;
  observe::TraceContext trace;
  core::Clock::MonoTime received{};
  core::Clock::MonoTime deadline{};  // every outbound call takes the remaining budget from this
  std::string_view route;            // the matched route pattern, for logs and metrics
  std::string remote_address;
  std::string tenant;  // the org a request addresses, once known (for logs)
  // Set by the authentication middleware; null for anonymous requests.
  std::shared_ptr<const core::Principal> principal;
  // Read-your-writes position (consistency.hpp); null when no ConsistencyMiddleware runs.
  std::shared_ptr<core::WritePosition> written;
};

struct Request {
  Method method = Method::kGet;
  std::string_view method_text;
  std::string_view target;  // as sent: path and query
  std::string_view path;
  std::string_view query;  // without '?'
  int version = 11;        // 10 or 11
  std::vector<Header> headers;
  std::string body;
  std::vector<std::pair<std::string_view, std::string_view>> params;  // path parameters
  RequestContext ctx;

  // First header with this name (case-insensitive), or nullopt.
  [[nodiscard]] std::optional<std::string_view> FindHeader(std::string_view name) const;
  // First header with this name, or "".
  [[nodiscard]] std::string_view HeaderValue(std::string_view name) const {
    return FindHeader(name).value_or(std::string_view());
  }
  // Path parameter by name, or "".
  [[nodiscard]] std::string_view Param(std::string_view name) const;
  // Query parameter, percent-decoded; nullopt when absent.
  [[nodiscard]] std::optional<std::string> QueryParam(std::string_view name) const;
  // Every name=value pair of the query, percent-decoded ('+' as space), in order; empty pairs
  // ("a=1&&b=2") skipped, a name without '=' has the value "".
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> QueryPairs() const;
};

[[nodiscard]] bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace trellis::platform::http
