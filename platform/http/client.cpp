#include "platform/http/client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstdint>

#include "platform/http/request.hpp"

namespace trellis::platform::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using core::ErrorCode;
using core::Fail;
using core::Result;

namespace {

constexpr int kHttp11 = 11;

struct Url {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  std::string port;
  std::string target;
  std::string host_header;
};

Result<Url> ParseUrl(std::string_view url) {
  Url out;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else {
    return Fail(ErrorCode::kInvalidArgument, "unsupported URL", std::string(url));
  }
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  out.target = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return Fail(ErrorCode::kInvalidArgument, "unsupported URL", std::string(url));
  }
  out.host_header = std::string(authority);
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument, "unsupported URL", std::string(url));
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Fail(ErrorCode::kInvalidArgument, "unsupported URL", std::string(url));
      }
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Fail(ErrorCode::kInvalidArgument, "unsupported URL", "no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    std::uint16_t n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (ec != std::errc() || end != port.data() + port.size() || n == 0) {
      return Fail(ErrorCode::kInvalidArgument, "unsupported URL", "bad port");
    }
    out.port = std::string(port);
  }
  return out;
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::unexpected<core::Error> NetworkError(std::string_view step, const Url& url,
                                          const boost::system::error_code& ec) {
  std::string detail = std::string(step) + " " + url.host + ":" + url.port + ": " + ec.message();
  if (ec == beast::error::timeout) {
    return Fail(ErrorCode::kDeadlineExceeded, "upstream deadline exceeded", std::move(detail));
  }
  return Fail(ErrorCode::kUnavailable, "upstream unavailable", std::move(detail));
}

}  // namespace

std::optional<std::string_view> ClientResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& form) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  auto encode = [](std::string& out, std::string_view s) {
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
          c == '.' || c == '_' || c == '~') {
        out.push_back(c);
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4U]);
        out.push_back(kHex[u & 15U]);
      }
    }
  };
  std::string out;
  for (const auto& [k, v] : form) {
    if (!out.empty()) out.push_back('&');
    encode(out, k);
    out.push_back('=');
    encode(out, v);
  }
  return out;
}

struct Client::Impl {
  ClientSettings settings;
  const core::Clock& clock;
  ssl::context tls{ssl::context::tls_client};
  std::string tls_error;  // set when the trust store could not be loaded

  Impl(ClientSettings s, const core::Clock& c) : settings(std::move(s)), clock(c) {
    boost::system::error_code ec;
    if (settings.ca_file.empty()) {
      tls.set_default_verify_paths(ec);
    } else {
      tls.load_verify_file(settings.ca_file, ec);
    }
    if (ec) tls_error = "trust store: " + ec.message();
    tls.set_verify_mode(ssl::verify_peer, ec);
    SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  }

  [[nodiscard]] std::chrono::steady_clock::duration Remaining(
      core::Clock::MonoTime deadline) const {
    return deadline - clock.Monotonic();
  }

  // Writes the request and reads the response on a connected (and, for TLS, handshaken)
  // stream whose lowest layer is `tcp`.
  template <typename Stream>
  asio::awaitable<Result<ClientResponse>> Exchange(Stream& stream, beast::tcp_stream& tcp_layer,
                                                   const Url& url,
                                                   bhttp::request<bhttp::string_body>& request,
                                                   core::Clock::MonoTime deadline) {
    boost::system::error_code ec;
    const auto left = Remaining(deadline);
    if (left <= std::chrono::steady_clock::duration::zero()) {
      co_return Fail(ErrorCode::kDeadlineExceeded, "upstream deadline exceeded", "before write");
    }
    tcp_layer.expires_after(left);
    co_await bhttp::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetworkError("write", url, ec);

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(settings.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(settings.max_header_bytes));
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      co_return Fail(ErrorCode::kUnavailable, "upstream response too large",
                     url.host + ":" + url.port + ": " + ec.message());
    }
    if (ec) co_return NetworkError("read", url, ec);
    tcp_layer.expires_never();

    auto message = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(message.body());
    co_return out;
  }

  asio::awaitable<Result<ClientResponse>> Send(bhttp::verb verb, std::string url_text,
                                               std::string body, std::string content_type,
                                               core::Clock::MonoTime deadline) {
    auto url = ParseUrl(url_text);
    if (!url) co_return std::unexpected(url.error());
    if (url->tls && !tls_error.empty()) {
      co_return Fail(ErrorCode::kUnavailable, "upstream unavailable", tls_error);
    }
    auto left = Remaining(deadline);
    if (left <= std::chrono::steady_clock::duration::zero()) {
      co_return Fail(ErrorCode::kDeadlineExceeded, "upstream deadline exceeded", "before connect");
    }
    auto executor = co_await asio::this_coro::executor;
    boost::system::error_code ec;

    // Resolve, bounded by the deadline. A getaddrinfo already running cannot be interrupted,
    // but the caller gets its answer once the resolver is cancelled.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    asio::steady_timer resolve_timer(executor, left);
    resolve_timer.async_wait(
        [weak = std::weak_ptr<tcp::resolver>(resolver)](const boost::system::error_code& timer_ec) {
          if (timer_ec) return;
          if (auto r = weak.lock()) r->cancel();
        });
    auto endpoints = co_await resolver->async_resolve(
        url->host, url->port, asio::redirect_error(asio::use_awaitable, ec));
    resolve_timer.cancel();
    if (ec == asio::error::operation_aborted || Remaining(deadline).count() <= 0) {
      co_return Fail(ErrorCode::kDeadlineExceeded, "upstream deadline exceeded",
                     "resolve " + url->host);
    }
    if (ec) co_return NetworkError("resolve", *url, ec);

    bhttp::request<bhttp::string_body> request(verb, url->target, kHttp11);
    request.set(bhttp::field::host, url->host_header);
    request.set(bhttp::field::user_agent, settings.user_agent);
    request.set(bhttp::field::accept, "application/json");
    request.set(bhttp::field::connection, "close");
    if (verb != bhttp::verb::get) {
      request.set(bhttp::field::content_type, content_type);
      request.body() = std::move(body);
      request.prepare_payload();
    }

    if (!url->tls) {
      beast::tcp_stream stream(executor);
      stream.expires_after(Remaining(deadline));
      co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return NetworkError("connect", *url, ec);
      auto result = co_await Exchange(stream, stream, *url, request, deadline);
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      co_return result;
    }

    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    if (!IsIpLiteral(url->host)) {
      // SNI (RFC 6066 allows host names only). SSL_set_tlsext_host_name is a casting macro.
      if (SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(url->host.c_str())) != 1) {
        co_return Fail(ErrorCode::kUnavailable, "upstream unavailable", "SNI setup failed");
      }
    }
    stream.set_verify_mode(ssl::verify_peer, ec);
    stream.set_verify_callback(ssl::host_name_verification(url->host), ec);
    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_after(Remaining(deadline));
    co_await tcp_layer.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetworkError("connect", *url, ec);
    tcp_layer.expires_after(Remaining(deadline));
    co_await stream.async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetworkError("tls handshake", *url, ec);
    // No close_notify exchange: the response is complete, and a peer that never answers the
    // shutdown must not hold the caller until its deadline.
    co_return co_await Exchange(stream, tcp_layer, *url, request, deadline);
  }
};

Client::Client(ClientSettings settings, const core::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(settings), clock)) {}
Client::~Client() = default;

asio::awaitable<Result<ClientResponse>> Client::Get(std::string url,
                                                    core::Clock::MonoTime deadline) {
  std::string body;
  std::string content_type;
  co_return co_await impl_->Send(bhttp::verb::get, std::move(url), std::move(body),
                                 std::move(content_type), deadline);
}

asio::awaitable<Result<ClientResponse>> Client::PostForm(
    std::string url, std::vector<std::pair<std::string, std::string>> form,
    core::Clock::MonoTime deadline) {
  std::string body = FormEncode(form);
  std::string content_type = "application/x-www-form-urlencoded";
  co_return co_await impl_->Send(bhttp::verb::post, std::move(url), std::move(body),
                                 std::move(content_type), deadline);
}

}  // namespace trellis::platform::http
