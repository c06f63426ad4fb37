#include "platform/http/problem.hpp"

#include "platform/core/log.hpp"

namespace trellis::platform::http {

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
  return Response::Text(status, std::move(body), kProblemJson);
}

}  // namespace trellis::platform::http
