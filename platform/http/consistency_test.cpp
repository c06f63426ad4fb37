#include "platform/http/consistency.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>

namespace trellis::platform::http {
namespace {

namespace asio = boost::asio;

Response RunToEnd(const Handler& handler, Request& req) {
  MiddlewareChain chain{std::make_shared<ConsistencyMiddleware>()};
  asio::io_context io;
  auto future = asio::co_spawn(io, RunChain(chain, handler, req), asio::use_future);
  io.run();
  return future.get();
}

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

// A handler standing in for a use case whose write committed at `commit` (0: a read).
Handler Writes(std::uint64_t commit, std::uint64_t* seen = nullptr) {
  return [commit, seen](Request& req) -> asio::awaitable<Response> {
    const core::CallContext call = CallOf(req);
    if (seen != nullptr) *seen = call.written ? call.written->Get() : ~std::uint64_t{0};
    if (commit > 0) call.written->Advance(commit);
    co_return Response::Text(200, "ok");
  };
}

TEST(WritePositionTest, FormatsAndParsesTokens) {
  EXPECT_EQ(core::WritePosition::Format(0x16b3748), "00000000016b3748");
  EXPECT_EQ(core::WritePosition::Parse("00000000016b3748"), 0x16b3748u);
  EXPECT_EQ(core::WritePosition::Parse("ffffffffffffffff"), ~std::uint64_t{0});
  for (std::string_view bad : {"", "0x10", "12g", "-1", " 1", "10000000000000000"}) {
    EXPECT_FALSE(core::WritePosition::Parse(bad)) << bad;
  }
}

TEST(WritePositionTest, OnlyMovesForward) {
  core::WritePosition p(10);
  p.Advance(5);
  EXPECT_EQ(p.Get(), 10u);
  p.Advance(12);
  EXPECT_EQ(p.Get(), 12u);
}

TEST(ConsistencyMiddlewareTest, AWriteReturnsItsPositionAsAToken) {
  Request req;
  const Response r = RunToEnd(Writes(0x2a00), req);
  EXPECT_EQ(HeaderOf(r, "Trellis-Consistency"), "0000000000002a00");
}

TEST(ConsistencyMiddlewareTest, TheEchoedTokenReachesTheUseCases) {
  Request req;
  req.headers.push_back({"trellis-consistency", "0000000000002a00"});
  std::uint64_t seen = 0;
  const Response r = RunToEnd(Writes(0, &seen), req);
  EXPECT_EQ(seen, 0x2a00u);
  // Nothing new was written: no header (the client keeps the token it has).
  EXPECT_EQ(HeaderOf(r, "Trellis-Consistency"), "");
}

TEST(ConsistencyMiddlewareTest, AMalformedTokenIs400) {
  Request req;
  req.headers.push_back({"Trellis-Consistency", "not-a-position"});
  const Response r = RunToEnd(Writes(0), req);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Trellis-Consistency"), std::string::npos);
}

TEST(ConsistencyMiddlewareTest, CallOfWithoutTheMiddlewareHasNoPositionAndNoDeadline) {
  Request req;
  const core::CallContext call = CallOf(req);
  EXPECT_EQ(call.written, nullptr);
  EXPECT_EQ(call.deadline, core::Clock::MonoTime::max());
}

}  // namespace
}  // namespace trellis::platform::http
