// An HTTP response built by a handler. The server adds Date, Content-Length, Connection and
// X-Request-Id; a handler sets status, content type, body and any other headers.
//
//   co_return Response::Json(200, R"({"ok":true})").With("Cache-Control", "no-store");
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform/http/sse.hpp"

namespace trellis::platform::http {

inline constexpr const char* kTextPlain = "text/plain; charset=utf-8";
inline constexpr const char* kApplicationJson = "application/json";
inline constexpr const char* kProblemJson = "application/problem+json";
inline constexpr const char* kTextHtml = "text/html; charset=utf-8";
inline constexpr const char* kEventStream = "text/event-stream";

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<SseChannel> events;  // set: stream events instead of a body
  bool close = false;                  // close the connection after this response

  static Response Text(int status, std::string body, std::string content_type = kTextPlain) {
    Response r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
  }
  static Response Json(int status, std::string body) {
    return Text(status, std::move(body), kApplicationJson);
  }
  static Response EventStream(std::shared_ptr<SseChannel> channel) {
    Response r;
    r.content_type = kEventStream;
    r.events = std::move(channel);
    return r;
  }
  Response&& With(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
  Response& With(std::string name, std::string value) & {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

}  // namespace trellis::platform::http
