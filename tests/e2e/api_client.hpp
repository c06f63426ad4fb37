// A blocking HTTP/1.1 client for the end-to-end tests: one request per call over a fresh
// connection, raw enough to send what a browser or curl would, and a reader for SSE streams.
//
//   ApiClient api(port);
//   auto r = api.Send("POST", "/api/v1/orgs", {{"Authorization", "Bearer " + token}}, body);
//   EXPECT_EQ(r.status, 201);
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trellis::tests::e2e {

struct ApiResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  [[nodiscard]] std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return {};
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class ApiClient {
 public:
  explicit ApiClient(std::uint16_t port) : port_(port) {}

  ApiResponse Send(const std::string& method, const std::string& target, const Headers& headers,
                   const std::string& body = {}) const {
    namespace http = boost::beast::http;
    boost::asio::io_context ctx;
    boost::asio::ip::tcp::socket socket(ctx);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PATCH") {
      req.body() = body;
      req.prepare_payload();
    }
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    http::read(socket, buffer, parser);
    ApiResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = parser.get().body();
    return out;
  }

  // Opens an event stream and collects what arrives until `done` says so or the time is up.
  template <typename Done>
  std::string ReadStream(const std::string& target, const Headers& headers,
                         std::chrono::milliseconds limit, Done done) const {
    boost::asio::io_context ctx;
    boost::asio::ip::tcp::socket socket(ctx);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
    request += "\r\n";
    boost::asio::write(socket, boost::asio::buffer(request));
    std::string seen;
    const auto until = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until && !done(seen)) {
      socket.non_blocking(true);
      boost::system::error_code ec;
      std::size_t n = socket.read_some(boost::asio::buffer(buf), ec);
      if (ec == boost::asio::error::would_block) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (ec) break;
      seen.append(buf, n);
    }
    return seen;
  }

 private:
  std::uint16_t port_;
};

}  // namespace trellis::tests::e2e
