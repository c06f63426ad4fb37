#include "platform/http/problem.hpp"

#include <string>

#include "platform/core/log.hpp"

namespace trellis::platform::http {

namespace {
// Long enough for a replica promotion or a reconnect to finish, short enough not to idle.
constexpr int kUnavailableRetryAfterSeconds = 1;
}  // namespace

Response Problem(const core::Error& error, std::string_view instance, std::string_view request_id) {
  const int status = core::HttpStatus(error.code);
  std::string body;
  body.reserve(256);
  body += "{\"type\":";
  core::AppendJsonString(body, std::string(kProblemTypeBase) + std::string(core::Slug(error.code)));
  body += ",\"title\":";
  core::AppendJsonString(body, core::Title(error.code));
  body += ",\"status\":";
  body += std::to_string(status);
  body += ",\"detail\":";
  core::AppendJsonString(body, error.message.empty() ? core::Title(error.code) : error.message);
  if (!instance.empty()) {
    body += ",\"instance\":";
    core::AppendJsonString(body, instance);
  }
  if (!request_id.empty()) {
    body += ",\"request_id\":";
    core::AppendJsonString(body, request_id);
  }
  if (!error.fields.empty()) {
    body += ",\"errors\":[";
    for (std::size_t i = 0; i < error.fields.size(); ++i) {
      if (i) body += ',';
      body += "{\"pointer\":";
      core::AppendJsonString(body, error.fields[i].pointer);
      body += ",\"detail\":";
      core::AppendJsonString(body, error.fields[i].detail);
      body += '}';
    }
    body += ']';
  }
  body += '}';
  Response response = Response::Text(status, std::move(body), kProblemJson);
  // 503 from a dependency that is down for now (a database failing over): clients back off and
  // retry rather than give up (RFC 9110 §10.2.3).
  if (error.code == core::ErrorCode::kUnavailable) {
    response.headers.emplace_back("Retry-After", std::to_string(kUnavailableRetryAfterSeconds));
  }
  return response;
}

}  // namespace trellis::platform::http
