#include "platform/core/error.hpp"

#include <gtest/gtest.h>

#include <set>

namespace trellis::platform::core {
namespace {

TEST(ErrorTest, EveryCodeMapsToADistinctSlugAndAnErrorStatus) {
  const ErrorCode all[] = {ErrorCode::kInvalidArgument,    ErrorCode::kUnauthenticated,
                           ErrorCode::kPermissionDenied,   ErrorCode::kNotFound,
                           ErrorCode::kMethodNotAllowed,   ErrorCode::kRequestTimeout,
                           ErrorCode::kAlreadyExists,      ErrorCode::kAborted,
                           ErrorCode::kFailedPrecondition, ErrorCode::kPayloadTooLarge,
                           ErrorCode::kUriTooLong,         ErrorCode::kUnsupportedMedia,
                           ErrorCode::kValidation,         ErrorCode::kPreconditionRequired,
                           ErrorCode::kResourceExhausted,  ErrorCode::kHeadersTooLarge,
                           ErrorCode::kInternal,           ErrorCode::kUnimplemented,
                           ErrorCode::kUnavailable,        ErrorCode::kDeadlineExceeded};
  std::set<std::string_view> slugs;
  for (auto code : all) {
    EXPECT_GE(HttpStatus(code), 400);
    EXPECT_LT(HttpStatus(code), 600);
    EXPECT_GT(GrpcStatus(code), 0);
    EXPECT_FALSE(Title(code).empty());
    EXPECT_TRUE(slugs.insert(Slug(code)).second) << Slug(code);
  }
}

TEST(ErrorTest, CanonicalMappings) {
  EXPECT_EQ(HttpStatus(ErrorCode::kNotFound), 404);
  EXPECT_EQ(GrpcStatus(ErrorCode::kNotFound), 5);
  EXPECT_EQ(HttpStatus(ErrorCode::kValidation), 422);
  EXPECT_EQ(HttpStatus(ErrorCode::kHeadersTooLarge), 431);
  EXPECT_EQ(HttpStatus(ErrorCode::kUnavailable), 503);
  EXPECT_EQ(GrpcStatus(ErrorCode::kUnavailable), 14);
  EXPECT_EQ(HttpStatus(ErrorCode::kDeadlineExceeded), 504);
  EXPECT_EQ(GrpcStatus(ErrorCode::kUnauthenticated), 16);
}

TEST(ErrorTest, FailBuildsAnUnexpected) {
  auto f = []() -> Result<int> { return Fail(ErrorCode::kNotFound, "no such thing", "row 7"); };
  auto r = f();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "no such thing");
  EXPECT_EQ(r.error().internal, "row 7");
}

}  // namespace
}  // namespace trellis::platform::core
