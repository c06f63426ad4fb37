// The HTTP client against a real platform/http Server on 127.0.0.1 port 0.
#include "platform/http/client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "platform/core/clock.hpp"
#include "platform/core/ids.hpp"
#include "platform/http/server.hpp"
#include "platform/observe/metrics.hpp"
#include "platform/ports/run_sync.hpp"
#include "tests/support/temp_dir.hpp"

namespace trellis::platform::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::ErrorCode;

class TestServer {
 public:
  TestServer() : ids_(core::SystemClock::Instance()) {
    router_.Add(Method::kGet, "/json", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Json(200, R"({"ok":true})").With("X-Thing", "yes");
    });
    router_.Add(Method::kGet, "/big", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Text(200, std::string(1024 * 1024 + 1, 'a'));
    });
    router_.Add(Method::kGet, "/exactly-cap", [](Request&) -> asio::awaitable<Response> {
      co_return Response::Text(200, std::string(1024 * 1024, 'b'));
    });
    router_.Add(Method::kGet, "/slow", [](Request&) -> asio::awaitable<Response> {
      asio::steady_timer timer(co_await asio::this_coro::executor, 3s);
      co_await timer.async_wait(asio::use_awaitable);
      co_return Response::Text(200, "late");
    });
    router_.Add(Method::kPost, "/echo", [](Request& req) -> asio::awaitable<Response> {
      std::string body = std::string(req.HeaderValue("content-type")) + "|" + req.body + "|" +
                         std::string(req.target);
      co_return Response::Text(201, std::move(body));
    });
    ServerSettings settings;
    settings.port = 0;
    settings.threads = 1;
    settings.access_log = false;
    settings.shutdown_timeout = 1s;
    server_ = std::make_unique<Server>(settings, router_, MiddlewareChain{}, registry_,
                                       core::SystemClock::Instance(), ids_);
    auto started = server_->Start();
    if (!started) ADD_FAILURE() << started.error().message;
  }
  ~TestServer() {
    server_->Shutdown();
    server_->Wait();
    server_.reset();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + std::string(path);
  }

 private:
  observe::Registry registry_;
  core::UuidV7Generator ids_;
  Router router_;
  std::unique_ptr<Server> server_;
};

using ::trellis::platform::ports::RunSync;

core::Clock::MonoTime In(std::chrono::milliseconds d) {
  return core::SystemClock::Instance().Monotonic() + d;
}

TEST(HttpClient, GetsAResponseWithHeadersAndBody) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/json"), In(5s)));
  ASSERT_TRUE(res.has_value()) << res.error().internal;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"ok":true})");
  EXPECT_EQ(res->Header("x-thing").value_or(""), "yes");
  EXPECT_EQ(res->Header("Content-Type").value_or(""), "application/json");
  EXPECT_FALSE(res->Header("x-missing").has_value());
}

TEST(HttpClient, ReturnsErrorStatusesAsResponses) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/nope"), In(5s)));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
}

TEST(HttpClient, PostsAForm) {
  TestServer server;
  Client client;
  auto res =
      RunSync(client.PostForm(server.Url("/echo?x=1"), {{"a b", "c&d"}, {"e", "ü"}}, In(5s)));
  ASSERT_TRUE(res.has_value()) << res.error().internal;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "application/x-www-form-urlencoded|a+b=c%26d&e=%C3%BC|/echo?x=1");
}

TEST(HttpClient, BodyOverTheCapIsRefused) {
  TestServer server;
  Client client;
  auto res = RunSync(client.Get(server.Url("/big"), In(10s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  auto at_cap = RunSync(client.Get(server.Url("/exactly-cap"), In(10s)));
  ASSERT_TRUE(at_cap.has_value()) << at_cap.error().internal;
  EXPECT_EQ(at_cap->body.size(), 1024U * 1024U);
}

TEST(HttpClient, DeadlineIsHonoured) {
  TestServer server;
  Client client;
  const auto started = std::chrono::steady_clock::now();
  auto res = RunSync(client.Get(server.Url("/slow"), In(200ms)));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_LT(took, 2s);
}

TEST(HttpClient, PastDeadlineFailsWithoutConnecting) {
  core::ManualClock clock;
  Client client(ClientSettings{}, clock);
  auto res = RunSync(client.Get("http://127.0.0.1:1/x", clock.Monotonic()));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kDeadlineExceeded);
}

TEST(HttpClient, RefusedConnectionIsUnavailable) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  Client client;
  auto res = RunSync(client.Get("http://127.0.0.1:" + std::to_string(port) + "/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClient, HttpsToAPlainServerFailsTheHandshake) {
  TestServer server;
  Client client;
  std::string url = server.Url("/json");
  url.replace(0, 4, "https");
  auto res = RunSync(client.Get(url, In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClient, UnusableUrlsAreInvalidArguments) {
  Client client;
  for (const char* url : {"ftp://x/", "http://", "http://user@127.0.0.1/", "127.0.0.1/x",
                          "http://127.0.0.1:99999/", "http://[::1/"}) {
    auto res = RunSync(client.Get(url, In(5s)));
    ASSERT_FALSE(res.has_value()) << url;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

TEST(HttpClient, MissingTrustStoreFailsHttpsOnly) {
  ClientSettings settings;
  settings.ca_file = "/nonexistent/ca.pem";
  Client client(settings);
  auto res = RunSync(client.Get("https://127.0.0.1:1/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().internal.find("trust store"), std::string::npos);
}

// --- TLS: a self-signed certificate and a one-response TLS server on loopback ---

struct Certificate {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed EC P-256 certificate whose subjectAltName is `san` ("DNS:localhost").
Certificate SelfSigned(const std::string& san) {
  Certificate out;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  const std::string cn = "trellis test";
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  const auto cert_len = static_cast<std::size_t>(BIO_get_mem_data(bio, &data));
  out.cert_pem.assign(data, cert_len);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  const auto key_len = static_cast<std::size_t>(BIO_get_mem_data(bio, &data));
  out.key_pem.assign(data, key_len);
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

class TlsServer {
 public:
  explicit TlsServer(const Certificate& cert)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain(asio::buffer(cert.cert_pem));
    tls_.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
    asio::co_spawn(io_, Serve(), [](const std::exception_ptr&) {});
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsServer() {
    io_.stop();
    thread_.join();
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  [[nodiscard]] std::uint16_t Port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] std::string SniSeen() {
    std::lock_guard lock(mu_);
    return sni_;
  }

 private:
  asio::awaitable<void> Serve() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), tls_);
      co_await stream.async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;
      if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
        std::lock_guard lock(mu_);
        sni_ = sni;
      }
      std::string request;
      co_await asio::async_read_until(stream, asio::dynamic_buffer(request), "\r\n\r\n",
                                      asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
      co_await asio::async_write(stream, asio::buffer(response),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  asio::io_context io_;
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::string sni_;  // guarded by mu_
};

std::string WriteFile(const tests::support::TempDir& dir, const std::string& name,
                      const std::string& text) {
  const auto path = (dir.Path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(HttpClientTls, TrustedCertificateVerifiesAndSendsSni) {
  const Certificate cert = SelfSigned("DNS:localhost");
  TlsServer server(cert);
  tests::support::TempDir dir;
  ClientSettings settings;
  settings.ca_file = WriteFile(dir, "ca.pem", cert.cert_pem);
  Client client(settings);
  auto res =
      RunSync(client.Get("https://localhost:" + std::to_string(server.Port()) + "/jwks", In(5s)));
  ASSERT_TRUE(res.has_value()) << res.error().internal;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "secure");
  EXPECT_EQ(server.SniSeen(), "localhost");
}

TEST(HttpClientTls, UntrustedCertificateIsUnavailable) {
  const Certificate cert = SelfSigned("DNS:localhost");
  TlsServer server(cert);
  Client client;  // the system store does not know this certificate
  auto res =
      RunSync(client.Get("https://localhost:" + std::to_string(server.Port()) + "/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClientTls, CertificateForAnotherHostIsUnavailable) {
  const Certificate cert = SelfSigned("DNS:other.example");
  TlsServer server(cert);
  tests::support::TempDir dir;
  ClientSettings settings;
  settings.ca_file = WriteFile(dir, "ca.pem", cert.cert_pem);
  Client client(settings);
  auto res =
      RunSync(client.Get("https://localhost:" + std::to_string(server.Port()) + "/", In(5s)));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().internal.find("handshake"), std::string::npos);
}

}  // namespace
}  // namespace trellis::platform::http
