#include "platform/http/middleware.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace trellis::platform::http {
namespace {

namespace asio = boost::asio;

// Runs the chain to completion on a private io_context.
Response RunToEnd(const MiddlewareChain& chain, const Handler& handler, Request& req) {
  asio::io_context io;
  auto future = asio::co_spawn(io, RunChain(chain, handler, req), asio::use_future);
  io.run();
  return future.get();
}

const Handler kOk = [](Request&) -> asio::awaitable<Response> {
  co_return Response::Text(200, "ok");
};

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

class Tag final : public Middleware {
 public:
  explicit Tag(std::string name, bool answer = false) : name_(std::move(name)), answer_(answer) {}
  asio::awaitable<Response> Handle(Request& req, Next next) override {
    if (answer_) co_return Response::Text(401, name_);
    Response r = co_await next(req);
    r.body += "<" + name_;
    co_return r;
  }

 private:
  std::string name_;
  bool answer_;
};

TEST(MiddlewareTest, RunsInOrderAroundTheHandler) {
  MiddlewareChain chain{std::make_shared<Tag>("outer"), std::make_shared<Tag>("inner")};
  Request req;
  EXPECT_EQ(RunToEnd(chain, kOk, req).body, "ok<inner<outer");
}

TEST(MiddlewareTest, AMiddlewareMayAnswerItself) {
  MiddlewareChain chain{std::make_shared<Tag>("outer"), std::make_shared<Tag>("authn", true)};
  Request req;
  const auto r = RunToEnd(chain, kOk, req);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "authn<outer");
}

MiddlewareChain Cors() {
  return {std::make_shared<CorsMiddleware>(
      CorsSettings{.allowed_origins = {"https://app.example"}, .max_age_seconds = 60})};
}

TEST(CorsTest, AnswersAPreflightFromAnAllowedOrigin) {
  Request req;
  req.method = Method::kOptions;
  req.headers = {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "PATCH"}};
  const auto r = RunToEnd(Cors(), kOk, req);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(HeaderOf(r, "access-control-allow-origin"), "https://app.example");
  EXPECT_NE(HeaderOf(r, "access-control-allow-methods").find("PATCH"), std::string::npos);
  EXPECT_NE(HeaderOf(r, "access-control-allow-headers").find("idempotency-key"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "access-control-max-age"), "60");
  EXPECT_EQ(HeaderOf(r, "vary"), "Origin");
}

TEST(CorsTest, MarksResponsesToAnAllowedOrigin) {
  Request req;
  req.headers = {{"Origin", "https://app.example"}};
  const auto r = RunToEnd(Cors(), kOk, req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "access-control-allow-origin"), "https://app.example");
  EXPECT_NE(HeaderOf(r, "access-control-expose-headers").find("x-request-id"), std::string::npos);
}

TEST(CorsTest, LeavesOtherOriginsAndSameOriginAlone) {
  Request other;
  other.method = Method::kOptions;
  other.headers = {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}};
  const auto r = RunToEnd(Cors(), kOk, other);
  EXPECT_EQ(r.status, 200);  // the handler's answer, no CORS grant
  EXPECT_EQ(HeaderOf(r, "access-control-allow-origin"), "");
  Request same;
  EXPECT_EQ(HeaderOf(RunToEnd(Cors(), kOk, same), "access-control-allow-origin"), "");
}

TEST(CorsTest, WildcardAllowsAnyOrigin) {
  MiddlewareChain chain{std::make_shared<CorsMiddleware>(CorsSettings{.allowed_origins = {"*"}})};
  Request req;
  req.headers = {{"Origin", "https://any.example"}};
  EXPECT_EQ(HeaderOf(RunToEnd(chain, kOk, req), "access-control-allow-origin"),
            "https://any.example");
}

}  // namespace
}  // namespace trellis::platform::http
