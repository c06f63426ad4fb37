#include "platform/core/error.hpp"

namespace trellis::platform::core {

namespace {

struct CodeInfo {
  int http;
  int grpc;
  std::string_view slug;
  std::string_view title;
};

// gRPC numbers: OK=0 CANCELLED=1 UNKNOWN=2 INVALID_ARGUMENT=3 DEADLINE_EXCEEDED=4 NOT_FOUND=5
// ALREADY_EXISTS=6 PERMISSION_DENIED=7 RESOURCE_EXHAUSTED=8 FAILED_PRECONDITION=9 ABORTED=10
// OUT_OF_RANGE=11 UNIMPLEMENTED=12 INTERNAL=13 UNAVAILABLE=14 DATA_LOSS=15 UNAUTHENTICATED=16
constexpr CodeInfo Info(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return {400, 3, "bad-request", "Bad Request"};
    case ErrorCode::kUnauthenticated: return {401, 16, "unauthenticated", "Unauthorized"};
    case ErrorCode::kPermissionDenied: return {403, 7, "forbidden", "Forbidden"};
    case ErrorCode::kNotFound: return {404, 5, "not-found", "Not Found"};
    case ErrorCode::kMethodNotAllowed: return {405, 12, "method-not-allowed", "Method Not Allowed"};
    case ErrorCode::kRequestTimeout: return {408, 4, "request-timeout", "Request Timeout"};
    case ErrorCode::kAlreadyExists: return {409, 6, "already-exists", "Conflict"};
    case ErrorCode::kAborted: return {409, 10, "conflict", "Conflict"};
    case ErrorCode::kFailedPrecondition:
      return {412, 9, "precondition-failed", "Precondition Failed"};
    case ErrorCode::kPayloadTooLarge: return {413, 11, "body-too-large", "Content Too Large"};
    case ErrorCode::kUriTooLong: return {414, 11, "uri-too-long", "URI Too Long"};
    case ErrorCode::kUnsupportedMedia:
      return {415, 3, "unsupported-media-type", "Unsupported Media Type"};
    case ErrorCode::kValidation: return {422, 3, "validation", "Unprocessable Content"};
    case ErrorCode::kPreconditionRequired:
      return {428, 9, "precondition-required", "Precondition Required"};
    case ErrorCode::kResourceExhausted: return {429, 8, "rate-limited", "Too Many Requests"};
    case ErrorCode::kHeadersTooLarge:
      return {431, 11, "headers-too-large", "Request Header Fields Too Large"};
    case ErrorCode::kInternal: return {500, 13, "internal", "Internal Server Error"};
    case ErrorCode::kUnimplemented: return {501, 12, "not-implemented", "Not Implemented"};
    case ErrorCode::kUnavailable: return {503, 14, "unavailable", "Service Unavailable"};
    case ErrorCode::kDeadlineExceeded: return {504, 4, "deadline-exceeded", "Gateway Timeout"};
  }
  return {500, 13, "internal", "Internal Server Error"};
}

}  // namespace

int HttpStatus(ErrorCode code) { return Info(code).http; }
int GrpcStatus(ErrorCode code) { return Info(code).grpc; }
std::string_view Slug(ErrorCode code) { return Info(code).slug; }
std::string_view Title(ErrorCode code) { return Info(code).title; }

}  // namespace trellis::platform::core
