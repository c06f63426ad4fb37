#include "platform/http/request_reader.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstring>
#include <optional>

namespace trellis::platform::http {

namespace beast = boost::beast;
using core::ErrorCode;

struct RequestReader::Impl {
  std::optional<beast::http::request_parser<beast::http::string_body>> parser;
};

RequestReader::RequestReader(ParseLimits limits)
    : impl_(std::make_unique<Impl>()), limits_(limits) {
  Reset();
}

RequestReader::~RequestReader() = default;

void RequestReader::Reset() {
  auto& p = impl_->parser.emplace();
  p.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  p.body_limit(limits_.max_body_bytes);
  p.eager(true);
  error_ = core::Error();
  scanned_ = 0;
  header_consumed_ = 0;
  prev_cr_ = false;
  prev_crlf_ = false;
  header_checked_ = false;
}

void RequestReader::Release() { impl_->parser.reset(); }

bool RequestReader::HeaderDone() const { return impl_->parser && impl_->parser->is_header_done(); }

bool RequestReader::ExpectsContinue() const {
  if (!HeaderDone() || impl_->parser->is_done()) return false;
  const auto& msg = impl_->parser->get();
  const auto it = msg.find(beast::http::field::expect);
  return it != msg.end() && beast::iequals(it->value(), "100-continue");
}

bool RequestReader::KeepAlive() const { return impl_->parser && impl_->parser->keep_alive(); }

RequestReader::Status RequestReader::Fail(ErrorCode code, std::string message) {
  error_ = core::Error(code, std::move(message));
  return Status::kError;
}

// Beast accepts a bare LF inside a header line and unfolds obs-fold continuation lines;
// RFC 9112 lets a server refuse both, and a proxy in front of us may read such lines
// differently, so we refuse them outright.
bool RequestReader::ScanLineEndings(std::string_view data) {
  // memchr jumps from one LF to the next; only the bytes around each LF need a look.
  const char* base = data.data();
  std::size_t i = scanned_;
  while (i < data.size()) {
    // The first byte after a CRLF (possibly carried over from the previous call).
    if (prev_crlf_ && (data[i] == ' ' || data[i] == '\t')) return false;  // obs-fold
    prev_crlf_ = false;
    const auto* lf = static_cast<const char*>(std::memchr(base + i, '\n', data.size() - i));
    const std::size_t at = lf ? static_cast<std::size_t>(lf - base) : data.size();
    if (std::memchr(base + i, '\0', at - i)) return false;
    if (!lf) {
      prev_cr_ = data.back() == '\r';
      break;
    }
    const bool cr = at > i ? data[at - 1] == '\r' : prev_cr_;
    if (!cr) return false;  // bare LF
    if (at >= 3 && data.substr(at - 3, 4) == "\r\n\r\n") {
      scanned_ = at + 1;
      return true;  // end of header; the body is not ours to scan
    }
    prev_crlf_ = true;
    prev_cr_ = false;
    i = at + 1;
  }
  scanned_ = data.size();
  return true;
}

bool RequestReader::CheckHeader() {
  const auto& msg = impl_->parser->get();
  const auto target = msg.target();
  if (target.size() > limits_.max_url_bytes) {
    Fail(ErrorCode::kUriTooLong,
         "the request target is longer than " + std::to_string(limits_.max_url_bytes) + " bytes");
    return false;
  }
  const bool asterisk = target == "*" && msg.method() == beast::http::verb::options;
  if (!asterisk && (target.empty() || target.front() != '/')) {
    Fail(ErrorCode::kInvalidArgument, "the request target must be an absolute path");
    return false;
  }
  if (msg.count(beast::http::field::content_length) > 1) {
    Fail(ErrorCode::kInvalidArgument, "more than one Content-Length header");
    return false;
  }
  if (const auto it = msg.find(beast::http::field::content_length); it != msg.end()) {
    // Beast accepts the list form "3, 3"; a lone decimal number is all we take.
    const auto v = it->value();
    if (v.empty() || v.find_first_not_of("0123456789") != beast::string_view::npos) {
      Fail(ErrorCode::kInvalidArgument, "Content-Length must be one decimal number");
      return false;
    }
  }
  const auto te_count = msg.count(beast::http::field::transfer_encoding);
  if (te_count > 0) {
    const auto te = msg[beast::http::field::transfer_encoding];
    if (te_count > 1 || !beast::iequals(te, "chunked") || msg.version() < 11) {
      Fail(ErrorCode::kInvalidArgument, "Transfer-Encoding other than a single \"chunked\"");
      return false;
    }
  }
  const auto hosts = msg.count(beast::http::field::host);
  if (hosts > 1 || (hosts == 0 && msg.version() >= 11)) {
    Fail(ErrorCode::kInvalidArgument, "an HTTP/1.1 request needs exactly one Host header");
    return false;
  }
  for (const auto& field : msg) {
    const auto v = field.value();
    if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      Fail(ErrorCode::kInvalidArgument, "a header value contains CR, LF or NUL");
      return false;
    }
  }
  return true;
}

RequestReader::Status RequestReader::Feed(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  if (!impl_->parser) Reset();
  auto& p = *impl_->parser;
  if (!p.is_header_done() && !ScanLineEndings(data)) {
    return Fail(ErrorCode::kInvalidArgument, "malformed request: bare LF or NUL in the header");
  }
  while (!p.is_done() && consumed < data.size()) {
    beast::error_code ec;
    const std::size_t n =
        p.put(boost::asio::const_buffer(data.data() + consumed, data.size() - consumed), ec);
    consumed += n;
    if (ec == beast::http::error::need_more) {
      if (n == 0) break;
      continue;
    }
    if (ec == beast::http::error::header_limit) {
      // A request line alone over the URL limit deserves 414, not 431. Once Beast has
      // consumed the request line, the buffer starts with header fields instead.
      const auto eol = data.find("\r\n");
      if (header_consumed_ == 0 && (eol == std::string_view::npos || eol > limits_.max_url_bytes)) {
        return Fail(ErrorCode::kUriTooLong, "the request target is longer than " +
                                                std::to_string(limits_.max_url_bytes) + " bytes");
      }
      return Fail(ErrorCode::kHeadersTooLarge, "the request header is larger than " +
                                                   std::to_string(limits_.max_header_bytes) +
                                                   " bytes");
    }
    if (ec == beast::http::error::body_limit) {
      return Fail(
          ErrorCode::kPayloadTooLarge,
          "the request body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (ec) return Fail(ErrorCode::kInvalidArgument, "malformed request: " + ec.message());
    if (p.is_header_done() && !header_checked_) {
      header_checked_ = true;
      if (!CheckHeader()) return Status::kError;
    }
    if (n == 0) break;
  }
  if (p.is_header_done() && !header_checked_) {
    header_checked_ = true;
    if (!CheckHeader()) return Status::kError;
  }
  if (!p.is_header_done()) {
    // Beast consumes the request line before the fields arrive: keep the scan position
    // relative to what the caller will pass next time.
    scanned_ -= consumed;
    header_consumed_ += consumed;
  }
  return p.is_done() ? Status::kDone : Status::kNeedMore;
}

void RequestReader::Fill(Request& req) {
  auto& msg = impl_->parser->get();
  const auto method = msg.method_string();
  req.method_text = std::string_view(method.data(), method.size());
  req.method = ParseMethod(req.method_text);
  const auto target = msg.target();
  req.target = std::string_view(target.data(), target.size());
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string_view::npos ? std::string_view() : req.target.substr(q + 1);
  req.version = static_cast<int>(msg.version());
  req.headers.clear();
  for (const auto& field : msg) {
    const auto name = field.name_string();
    const auto value = field.value();
    req.headers.push_back(Header{std::string_view(name.data(), name.size()),
                                 std::string_view(value.data(), value.size())});
  }
  req.body = std::move(msg.body());
}

}  // namespace trellis::platform::http
