#include "platform/http/wire.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace trellis::platform::http {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool SafeName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

bool SafeValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void AppendHeader(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

void AppendResponseHead(std::string& out, const Response& r, const HeadOptions& o) {
  char status[8];
  const auto status_end = std::to_chars(status, status + sizeof status, r.status).ptr;
  out += "HTTP/1.1 ";
  out.append(status, status_end);
  out += ' ';
  out += ReasonPhrase(r.status);
  out += "\r\n";
  if (!o.date.empty()) AppendHeader(out, "Date", o.date);
  if (!r.content_type.empty() && SafeValue(r.content_type)) {
    AppendHeader(out, "Content-Type", r.content_type);
  }
  const bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
  if (r.events) {
    AppendHeader(out, "Cache-Control", "no-store");
    AppendHeader(out, "X-Accel-Buffering", "no");
  } else if (!no_body) {
    char len[24];
    const auto len_end = std::to_chars(len, len + sizeof len, r.BodySize()).ptr;
    AppendHeader(out, "Content-Length", std::string_view(len, len_end));
  }
  if (!o.request_id.empty()) AppendHeader(out, "X-Request-Id", o.request_id);
  for (const auto& [name, value] : r.headers) {
    if (SafeName(name) && SafeValue(value)) AppendHeader(out, name, value);
  }
  // An event stream is delimited by the connection's close.
  if (!o.keep_alive || r.events) AppendHeader(out, "Connection", "close");
  out += "\r\n";
}

std::string_view HttpDate(const core::Clock& clock) {
  thread_local std::int64_t cached_second = -1;
  thread_local char buf[32];
  const auto now = clock.Now();
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (secs != cached_second) {
    cached_second = secs;
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return buf;
}

}  // namespace trellis::platform::http
