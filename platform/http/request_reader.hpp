// Turns bytes from a connection into a validated HTTP/1.1 request, one message at a time.
//
// Beast's parser does the grammar; this class adds the limits and the refusals that close
// request-smuggling vectors (duplicate Content-Length, any Transfer-Encoding but a lone
// "chunked", bare LF line endings, CR/LF/NUL in header values, a missing or repeated Host).
// It does no I/O, so tests and the fuzzer drive it directly.
//
//   RequestReader reader({.max_header_bytes = 16384, ...});
//   std::size_t used = 0;
//   auto status = reader.Feed(bytes, used);  // consume `used` bytes from the buffer
//   if (status == RequestReader::Status::kDone) reader.Fill(request);
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"

namespace trellis::platform::http {

struct ParseLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_url_bytes = 8 * 1024;
};

class RequestReader {
 public:
  enum class Status { kNeedMore, kDone, kError };

  explicit RequestReader(ParseLimits limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  // Parses what it can of `data`; `consumed` says how many bytes the caller may drop.
  // Bytes of an incomplete header are not consumed: pass them again with more appended.
  [[nodiscard]] Status Feed(std::string_view data, std::size_t& consumed);
  // Why the message was refused (kError): code, and a message safe for the client.
  [[nodiscard]] const core::Error& Error() const { return error_; }
  [[nodiscard]] bool HeaderDone() const;
  // The header asked for "100-continue" and the body has not arrived yet.
  [[nodiscard]] bool ExpectsContinue() const;
  [[nodiscard]] bool KeepAlive() const;
  // Fills `req` with views into the parsed message (valid until Reset) and moves the body.
  void Fill(Request& req);
  // Prepares for the next message on the same connection.
  void Reset();
  // Frees the parser's memory while the connection is idle.
  void Release();

 private:
  Status Fail(core::ErrorCode code, std::string message);
  bool CheckHeader();
  bool ScanLineEndings(std::string_view data);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  ParseLimits limits_;
  core::Error error_;
  std::size_t scanned_ = 0;          // bytes of the pending header already checked for bare LF
  std::size_t header_consumed_ = 0;  // header bytes Beast took before the header completed
  bool prev_cr_ = false;
  bool prev_crlf_ = false;
  bool header_checked_ = false;
};

}  // namespace trellis::platform::http
