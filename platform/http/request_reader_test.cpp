#include "platform/http/request_reader.hpp"

#include <gtest/gtest.h>

namespace trellis::platform::http {
namespace {

using Status = RequestReader::Status;
using core::ErrorCode;

constexpr ParseLimits kLimits{.max_header_bytes = 1024, .max_body_bytes = 64, .max_url_bytes = 256};

struct Outcome {
  Status status;
  ErrorCode code = ErrorCode::kInternal;
  Request request;
};

// Feeds the whole input at once, the way a single socket read would deliver it.
Outcome Parse(std::string_view input, ParseLimits limits = kLimits) {
  static RequestReader* keep = nullptr;  // keep the reader alive for the request's views
  delete keep;
  keep = new RequestReader(limits);
  std::size_t used = 0;
  Outcome o{keep->Feed(input, used), ErrorCode::kInternal, {}};
  if (o.status == Status::kError) o.code = keep->Error().code;
  if (o.status == Status::kDone) keep->Fill(o.request);
  return o;
}

TEST(RequestReaderTest, ParsesASimpleGet) {
  auto o = Parse("GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Y: z\r\n\r\n");
  ASSERT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.request.method, Method::kGet);
  EXPECT_EQ(o.request.path, "/a/b");
  EXPECT_EQ(o.request.query, "x=1");
  EXPECT_EQ(o.request.HeaderValue("x-y"), "z");
}

TEST(RequestReaderTest, ParsesChunkedBody) {
  auto o = Parse(
      "POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.request.body, "hello world");
}

TEST(RequestReaderTest, IncompleteHeaderNeedsMore) {
  RequestReader r(kLimits);
  std::string buffer = "GET / HTTP/1.1\r\nHo";
  std::size_t used = 0;
  EXPECT_EQ(r.Feed(buffer, used), Status::kNeedMore);
  buffer.erase(0, used);  // Beast may take the request line already
  buffer += "st: h\r\nX: 1\n2\r\n\r\n";
  EXPECT_EQ(r.Feed(buffer, used), Status::kError) << "bare LF after a consumed request line";
}

TEST(RequestReaderTest, LeavesAPipelinedRequestInTheBuffer) {
  RequestReader r(kLimits);
  const std::string two = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  std::size_t used = 0;
  ASSERT_EQ(r.Feed(two, used), Status::kDone);
  EXPECT_EQ(two.substr(used), "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(RequestReaderTest, Limits) {
  EXPECT_EQ(Parse("GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n").code,
            ErrorCode::kUriTooLong);
  EXPECT_EQ(Parse("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n").code,
            ErrorCode::kUriTooLong);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'a') + "\r\n\r\n").code,
            ErrorCode::kHeadersTooLarge);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n").code,
            ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "40\r\n" +
                  std::string(64, 'a') + "\r\n1\r\na\r\n0\r\n\r\n")
                .code,
            ErrorCode::kPayloadTooLarge);
}

TEST(RequestReaderTest, RefusesSmugglingVectors) {
  const char* vectors[] = {
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
      "3\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity,chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\na\r\n",
      "GET / HTTP/1.1\nHost: h\n\n",
      "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET http://evil/ HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
      "G@T / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/9.9\r\nHost: h\r\n\r\n",
  };
  for (const char* v : vectors) {
    const std::string_view input(v,
                                 std::char_traits<char>::length(v) +
                                     (std::string_view(v).find("a\0b") != std::string_view::npos));
    auto o = Parse(input);
    EXPECT_EQ(o.status, Status::kError) << v;
    EXPECT_EQ(o.code, ErrorCode::kInvalidArgument) << v;
  }
}

TEST(RequestReaderTest, NulInHeaderValueIsRefused) {
  const std::string input("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 36);
  EXPECT_EQ(Parse(input).status, Status::kError);
}

TEST(RequestReaderTest, ExpectContinueIsReported) {
  RequestReader r(kLimits);
  std::size_t used = 0;
  ASSERT_EQ(
      r.Feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
             used),
      Status::kNeedMore);
  EXPECT_TRUE(r.ExpectsContinue());
  ASSERT_EQ(r.Feed("ok", used), Status::kDone);
  EXPECT_FALSE(r.ExpectsContinue());
}

TEST(RequestReaderTest, KeepAliveFollowsVersionAndConnectionHeader) {
  RequestReader r(kLimits);
  std::size_t used = 0;
  ASSERT_EQ(r.Feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", used), Status::kDone);
  EXPECT_TRUE(r.KeepAlive());
  r.Reset();
  ASSERT_EQ(r.Feed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", used), Status::kDone);
  EXPECT_FALSE(r.KeepAlive());
  r.Reset();
  ASSERT_EQ(r.Feed("GET / HTTP/1.0\r\n\r\n", used), Status::kDone);
  EXPECT_FALSE(r.KeepAlive());
}

TEST(RequestReaderTest, ByteAtATimeParsesTheSameAndScansLinearly) {
  const std::string req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  RequestReader r(kLimits);
  std::string buffer;
  Status s = Status::kNeedMore;
  for (char c : req) {
    buffer.push_back(c);
    std::size_t used = 0;
    s = r.Feed(buffer, used);
    buffer.erase(0, used);
    ASSERT_NE(s, Status::kError) << r.Error().message;
  }
  ASSERT_EQ(s, Status::kDone);
  Request out;
  r.Fill(out);
  EXPECT_EQ(out.body, "hello");
}

}  // namespace
}  // namespace trellis::platform::http
