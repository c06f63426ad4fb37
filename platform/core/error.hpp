// Errors as values: Result<T> = std::expected<T, Error> with canonical codes.
//
// Canonical codes map one-to-one onto HTTP statuses (problem+json at the edge) and gRPC
// status codes (split shape). An Error carries a message safe to show a client and, apart
// from it, internal detail that only reaches logs.
//
//   Result<int> ParsePort(std::string_view s);
//   if (auto port = ParsePort(s); !port) return std::unexpected(port.error());
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trellis::platform::core {

enum class ErrorCode {
  kInvalidArgument,       // 400: malformed input
  kUnauthenticated,       // 401
  kPermissionDenied,      // 403
  kNotFound,              // 404
  kMethodNotAllowed,      // 405
  kRequestTimeout,        // 408
  kAlreadyExists,         // 409
  kAborted,               // 409: concurrency conflict
  kFailedPrecondition,    // 412
  kPayloadTooLarge,       // 413
  kUriTooLong,            // 414
  kUnsupportedMedia,      // 415
  kValidation,            // 422: well-formed but invalid, per-field errors
  kPreconditionRequired,  // 428
  kResourceExhausted,     // 429
  kHeadersTooLarge,       // 431
  kInternal,              // 500
  kUnimplemented,         // 501
  kUnavailable,           // 503
  kDeadlineExceeded,      // 504
};

// One invalid field of a request, addressed by a JSON pointer (RFC 6901).
struct FieldError {
  std::string pointer;
  std::string detail;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;   // safe for clients
  std::string internal;  // for logs only; never sent
  std::vector<FieldError> fields;

  Error() = default;
  Error(ErrorCode c, std::string msg, std::string internal_detail = {})
      : code(c), message(std::move(msg)), internal(std::move(internal_detail)) {}
};

template <typename T>
using Result = std::expected<T, Error>;

// Shorthand for returning an error from a function that yields Result<T>.
[[nodiscard]] inline std::unexpected<Error> Fail(ErrorCode code, std::string message,
                                                 std::string internal = {}) {
  return std::unexpected(Error(code, std::move(message), std::move(internal)));
}

// The HTTP status an error code maps to.
[[nodiscard]] int HttpStatus(ErrorCode code);
// The gRPC status code (numeric, as in grpc::StatusCode) an error code maps to.
[[nodiscard]] int GrpcStatus(ErrorCode code);
// Stable, kebab-case name of the code; the last segment of a problem type URI.
[[nodiscard]] std::string_view Slug(ErrorCode code);
// Short human title for the code ("Not Found").
[[nodiscard]] std::string_view Title(ErrorCode code);

}  // namespace trellis::platform::core
