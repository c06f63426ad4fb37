// An HTTP response built by a handler. The server adds Date, Content-Length, Connection and
// X-Request-Id; a handler sets status, content type, body and any other headers.
//
//   co_return Response::Json(200, R"({"ok":true})").With("Cache-Control", "no-store");
#pragma once

#include <cstddef>
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
  // More body, sent after `body` in the same gathered write without being copied into it: a
  // large piece the handler already owns (a cached page's items) between a small prefix in
  // `body` and a suffix. Content-Length counts every piece. Middleware sees `body` alone, so
  // only responses that no middleware reads or stores (GET lists) use it; FullBody() joins.
  std::vector<std::string> body_more;
  std::shared_ptr<SseChannel> events;  // set: stream events instead of a body
  bool close = false;                  // close the connection after this response

  [[nodiscard]] std::size_t BodySize() const {
    std::size_t n = body.size();
    for (const auto& piece : body_more) n += piece.size();
    return n;
  }
  [[nodiscard]] std::string FullBody() const {
    std::string out;
    out.reserve(BodySize());
    out += body;
    for (const auto& piece : body_more) out += piece;
    return out;
  }

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
