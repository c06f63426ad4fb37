// A small asynchronous HTTP/1.1 client for the platform's own outbound fetches (OIDC discovery
// documents, JWKS): one connection per request, http:// and https:// (system CA store, host
// name verification, SNI), a body size cap and the caller's deadline.
//
//   Client client(ClientSettings{}, core::SystemClock::Instance());
//   auto res = co_await client.Get("https://idp.example/.well-known/openid-configuration",
//                                  call.deadline);
//   if (res && res->status == 200) Parse(res->body);
//
// Errors: kInvalidArgument (unusable URL), kDeadlineExceeded (the deadline passed at any
// step), kUnavailable (resolve/connect/TLS/read failures, a malformed or oversized response).
// Redirects are not followed: a 3xx comes back as a response.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/core/clock.hpp"
#include "platform/core/error.hpp"

namespace trellis::platform::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // First header with this name (case-insensitive), or nullopt.
  [[nodiscard]] std::optional<std::string_view> Header(std::string_view name) const;
};

struct ClientSettings {
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 64 * 1024;
  std::string user_agent = "trellis";
  // A PEM bundle to trust instead of the system store (tests, private CAs); "" = system store.
  std::string ca_file;
};

class Client {
 public:
  explicit Client(ClientSettings settings = {},
                  const core::Clock& clock = core::SystemClock::Instance());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET url, finished before `deadline` (on the clock given to the constructor).
  [[nodiscard]] boost::asio::awaitable<core::Result<ClientResponse>> Get(
      std::string url, core::Clock::MonoTime deadline);
  // POST an application/x-www-form-urlencoded body built from `form`.
  [[nodiscard]] boost::asio::awaitable<core::Result<ClientResponse>> PostForm(
      std::string url, std::vector<std::pair<std::string, std::string>> form,
      core::Clock::MonoTime deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes for application/x-www-form-urlencoded (space as '+').
[[nodiscard]] std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& form);

}  // namespace trellis::platform::http
