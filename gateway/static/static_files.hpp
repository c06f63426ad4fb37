// The web app's build (ui/dist: index.html, content-hashed files under assets/, a few files at
// the root, each maybe with precompressed `.gz`/`.br` siblings), loaded into memory once at
// start and served by the gateway (ADR 0023): strong ETags and 304s, the two cache classes
// (immutable under /assets/, no-cache elsewhere), precompressed variants by Accept-Encoding,
// and index.html for the web app's client-side routes.
//
//   auto files = StaticFiles::Load({.root = "ui/dist", .oidc_authority = issuer}, registry);
//   if (!files && files.error().code == core::ErrorCode::kNotFound) { /* warn: API only */ }
//   AddUiRoutes(router, *files, ui_config);   // GET /, GET /ui-config.json, the fallback
//
// Nothing touches the disk after Load: a redeploy restarts the process.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"
#include "platform/http/response.hpp"
#include "platform/observe/metrics.hpp"

namespace trellis::gateway::static_files {

struct StaticSettings {
  std::filesystem::path root;  // the build directory (ui.dir)
  // The OIDC issuer the web app signs in with (a URL). Its origin joins connect-src and
  // form-action in index.html's Content-Security-Policy; "" adds nothing.
  std::string oidc_authority;
  // Everything loaded (files and their compressed siblings) must fit in this.
  std::size_t max_total_bytes = std::size_t{64} * 1024 * 1024;
};

// Paths the web app's client-side routes never take: an unknown path under them is a 404,
// never index.html.
inline constexpr std::string_view kNoFallbackSegments[] = {"api", "oidc", ".well-known", "assets"};

class StaticFiles {
 public:
  // Reads the whole build. Errors: kNotFound when `root` does not exist (the caller may serve
  // the API only); kFailedPrecondition when it is not a directory, has no index.html, cannot
  // be read or is larger than max_total_bytes. Symbolic links are followed only to regular
  // files inside the root; dot-files and dot-directories (".vite/") are left out.
  // `registry` must outlive the result.
  [[nodiscard]] static platform::core::Result<std::shared_ptr<const StaticFiles>> Load(
      const StaticSettings& settings, platform::observe::Registry& registry);

  // The answer for a GET or HEAD of req.path: a file, index.html for a client-side route,
  // 400 for a path that is not acceptable (bad percent-encoding, NUL, backslash, an encoded
  // slash, "." or ".." segments), else the server's usual 404 problem+json.
  [[nodiscard]] platform::http::Response Respond(const platform::http::Request& req) const;
  // index.html, whatever the path (for GET /).
  [[nodiscard]] platform::http::Response Index(const platform::http::Request& req) const;
  // Respond as a handler (the router's fallback).
  [[nodiscard]] boost::asio::awaitable<platform::http::Response> Serve(
      platform::http::Request& req) const;

  [[nodiscard]] std::size_t FileCount() const { return files_.size(); }
  [[nodiscard]] std::size_t TotalBytes() const { return total_bytes_; }
  // index.html's Content-Security-Policy.
  [[nodiscard]] const std::string& ContentSecurityPolicy() const { return csp_; }

 private:
  struct Variant {
    std::string body;
    std::string etag;  // strong, quoted
  };
  struct File {
    std::string content_type;
    bool immutable = false;  // under /assets/: content-hashed names
    bool index = false;      // /index.html: carries the CSP
    Variant identity;
    std::optional<Variant> gzip;
    std::optional<Variant> br;
  };
  struct Counters {
    platform::observe::Counter* br = nullptr;
    platform::observe::Counter* gzip = nullptr;
    platform::observe::Counter* identity = nullptr;
    platform::observe::Counter* not_modified = nullptr;
    platform::observe::Counter* not_found = nullptr;
    platform::observe::Counter* bad_path = nullptr;
    platform::observe::Counter* app_route = nullptr;
  };

  StaticFiles() = default;
  [[nodiscard]] platform::http::Response ServeFile(const File& file,
                                                   const platform::http::Request& req) const;

  std::map<std::string, File, std::less<>> files_;  // by URL path ("/assets/app-1a2b.js")
  const File* index_ = nullptr;                     // into files_
  std::size_t total_bytes_ = 0;
  std::string csp_;
  Counters counters_;
};

// --- the parts, exposed for tests and for the nginx configuration to mirror ---

// The Content-Type for a file name by its extension (application/octet-stream when unknown).
[[nodiscard]] std::string ContentTypeFor(std::string_view file_name);
// The origin ("https://idp.example:8443") of a URL; "" when it has none.
[[nodiscard]] std::string OriginOf(std::string_view url);
// index.html's Content-Security-Policy with `authority_origin` ("" for none) added to
// connect-src and form-action.
[[nodiscard]] std::string ContentSecurityPolicyFor(std::string_view authority_origin);
// A request path percent-decoded, or nullopt when it must be refused (see Respond).
[[nodiscard]] std::optional<std::string> DecodePath(std::string_view raw);
// Whether an Accept-Encoding header value accepts `coding` (q > 0, directly or through "*").
// Only for content codings (br, gzip): identity is always served.
[[nodiscard]] bool AcceptsEncoding(std::string_view accept_encoding, std::string_view coding);
// Whether an If-None-Match header value matches `etag` (weak comparison, "*" matches).
[[nodiscard]] bool NoneMatchHits(std::string_view if_none_match, std::string_view etag);

}  // namespace trellis::gateway::static_files
