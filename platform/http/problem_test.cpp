#include "platform/http/problem.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "platform/http/wire.hpp"

namespace trellis::platform::http {
namespace {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

TEST(ProblemTest, HasTheRfc9457Members) {
  Error e(ErrorCode::kNotFound, "no such project", "SELECT ... FROM work.projects failed");
  const auto r = Problem(e, "/api/v1/projects/7", "req-1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  const auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body.at("type").as_string(), "https://trellis.dev/problems/not-found");
  EXPECT_EQ(body.at("title").as_string(), "Not Found");
  EXPECT_EQ(body.at("status").as_int64(), 404);
  EXPECT_EQ(body.at("detail").as_string(), "no such project");
  EXPECT_EQ(body.at("instance").as_string(), "/api/v1/projects/7");
  EXPECT_EQ(body.at("request_id").as_string(), "req-1");
  // Internal detail never leaves the process.
  EXPECT_EQ(r.body.find("SELECT"), std::string::npos);
}

TEST(ProblemTest, UnavailableCarriesRetryAfter) {
  const auto r = Problem(Error(ErrorCode::kUnavailable, "database unavailable"), "/x", "r");
  EXPECT_EQ(r.status, 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  EXPECT_EQ(r.headers[0].second, "1");
  // Other errors carry none.
  EXPECT_TRUE(Problem(Error(ErrorCode::kNotFound, "no"), "/x", "r").headers.empty());
}

TEST(ProblemTest, ValidationErrorsListFields) {
  Error e(ErrorCode::kValidation, "the request has invalid fields");
  e.fields = {{"/title", "must not be empty"}, {"/due", "must be a date"}};
  const auto body = json::parse(Problem(e, "/x", "r").body).as_object();
  EXPECT_EQ(body.at("status").as_int64(), 422);
  const auto& errors = body.at("errors").as_array();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].at("pointer").as_string(), "/title");
  EXPECT_EQ(errors[1].at("detail").as_string(), "must be a date");
}

TEST(ProblemTest, EscapesClientControlledText) {
  Error e(ErrorCode::kInvalidArgument, "bad \"value\"\n\x01");
  const auto r = Problem(e, "/p\"ath", "");
  const auto body = json::parse(r.body).as_object();  // still valid JSON
  EXPECT_EQ(body.at("detail").as_string(), "bad \"value\"\n\x01");
  EXPECT_FALSE(body.contains("request_id"));
}

TEST(WireTest, HeadCarriesLengthIdAndDropsUnsafeHeaders) {
  Response r = Response::Json(201, "{}");
  r.headers = {{"Location", "/x"}, {"X-Evil", "a\r\nSet-Cookie: b"}, {"Bad Name", "v"}};
  std::string head;
  AppendResponseHead(head, r, {.request_id = "rid", .date = "D", .keep_alive = false});
  EXPECT_EQ(head,
            "HTTP/1.1 201 Created\r\nDate: D\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nX-Request-Id: rid\r\nLocation: /x\r\nConnection: close\r\n\r\n");
}

TEST(WireTest, NoContentHasNoLength) {
  Response r;
  r.status = 204;
  std::string head;
  AppendResponseHead(head, r, {});
  EXPECT_EQ(head, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(WireTest, HttpDateIsImfFixdate) {
  core::ManualClock clock;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(HttpDate(clock), "Tue, 14 Nov 2023 22:13:20 GMT");
}

}  // namespace
}  // namespace trellis::platform::http
