#include "gateway/static/static_files.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

#include "platform/core/log.hpp"
#include "platform/http/problem.hpp"

namespace trellis::gateway::static_files {

namespace fs = std::filesystem;
namespace http = platform::http;
namespace core = platform::core;
using core::ErrorCode;

namespace {

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kIndexPath = "/index.html";
constexpr std::string_view kAssetsPrefix = "/assets/";

struct Extension {
  std::string_view ext;
  std::string_view type;
};
// Textual types carry charset=utf-8: Vite writes UTF-8, and a declared charset leaves the
// browser nothing to guess.
constexpr std::array<Extension, 17> kTypes{{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".webmanifest", "application/manifest+json; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".wasm", "application/wasm"},
}};

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A strong validator from the bytes: FNV-1a 64 and the length. Any change of content (a new
// build) changes it; it is not a security boundary.
std::string EtagOf(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int shift = 60; shift >= 0; shift -= 4) tag += kHex[(h >> shift) & 0xF];
  tag += '-';
  std::string len;
  for (std::size_t n = bytes.size(); n > 0; n /= 16) len.insert(len.begin(), kHex[n % 16]);
  tag += len.empty() ? "0" : len;
  tag += '"';
  return tag;
}

// Whether `q` (the value after "q=") is a valid qvalue above zero. Malformed counts as zero:
// a coding the client did not clearly accept is not sent.
bool QAboveZero(std::string_view q) {
  q = Trim(q);
  if (q.empty() || (q[0] != '0' && q[0] != '1')) return false;
  if (q.size() > 1 && (q[1] != '.' || q.size() > 5)) return false;
  bool nonzero = q[0] == '1';
  for (std::size_t i = 2; i < q.size(); ++i) {
    if (q[i] < '0' || q[i] > '9') return false;
    if (q[0] == '1' && q[i] != '0') return false;  // above 1
    nonzero = nonzero || q[i] != '0';
  }
  return nonzero;
}

bool HasDotSegment(std::string_view path) {
  const auto slash = path.rfind('/');
  return path.substr(slash == std::string_view::npos ? 0 : slash + 1).find('.') !=
         std::string_view::npos;
}

std::string_view FirstSegment(std::string_view path) {
  path.remove_prefix(1);  // the leading '/'
  return path.substr(0, path.find('/'));
}

core::Result<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Fail(ErrorCode::kFailedPrecondition, "cannot read " + path.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return core::Fail(ErrorCode::kFailedPrecondition, "cannot read " + path.string());
  return data;
}

// Whether `p` (canonical) lies inside `root` (canonical).
bool Inside(const fs::path& p, const fs::path& root) {
  auto r = root.begin();
  auto i = p.begin();
  for (; r != root.end(); ++r, ++i) {
    if (i == p.end() || *i != *r) return false;
  }
  return true;
}

http::Response NotFound(const http::Request& req) {
  // The server's own 404, word for word.
  return http::Problem(core::Error(ErrorCode::kNotFound, "no resource at this path"), req.path,
                       req.ctx.request_id);
}

}  // namespace

std::string ContentTypeFor(std::string_view file_name) {
  const auto dot = file_name.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string ext = LowerCopy(file_name.substr(dot));
    for (const auto& [e, type] : kTypes) {
      if (e == ext) return std::string(type);
    }
  }
  return "application/octet-stream";
}

std::string OriginOf(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return {};
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // no credentials in an origin
  }
  if (authority.empty()) return {};
  return LowerCopy(url.substr(0, scheme_end)) + "://" + LowerCopy(authority);
}

std::string ContentSecurityPolicyFor(std::string_view authority_origin) {
  const std::string extra = authority_origin.empty() ? "" : " " + std::string(authority_origin);
  return "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
         "img-src 'self' data:; connect-src 'self'" +
         extra + "; frame-ancestors 'none'; base-uri 'self'; form-action 'self'" + extra +
         "; object-src 'none'";
}

std::optional<std::string> DecodePath(std::string_view raw) {
  if (raw.empty() || raw.front() != '/') return std::nullopt;
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size() || HexValue(raw[i + 1]) < 0 || HexValue(raw[i + 2]) < 0) {
        return std::nullopt;
      }
      c = static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
      i += 2;
      // An encoded slash would name a path other than the one the segments show.
      if (c == '/') return std::nullopt;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    out.push_back(c);
  }
  // "." and ".." segments: a lookup in the in-memory map could not leave the root anyway, but
  // such a path is never a link the web app made.
  std::string_view rest(out);
  while (!rest.empty()) {
    rest.remove_prefix(1);
    const std::string_view seg = rest.substr(0, rest.find('/'));
    if (seg == "." || seg == "..") return std::nullopt;
    rest.remove_prefix(seg.size());
  }
  return out;
}

bool AcceptsEncoding(std::string_view accept_encoding, std::string_view coding) {
  std::optional<bool> named;
  std::optional<bool> star;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size()
                                                                  : comma + 1);
    const auto semi = item.find(';');
    const std::string name = LowerCopy(Trim(item.substr(0, semi)));
    if (name.empty()) continue;
    bool accepted = true;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      while (!params.empty()) {
        const auto next = params.find(';');
        const std::string_view param = Trim(params.substr(0, next));
        params.remove_prefix(next == std::string_view::npos ? params.size() : next + 1);
        if (param.size() >= 2 && Lower(param[0]) == 'q' && param[1] == '=') {
          accepted = QAboveZero(param.substr(2));
        }
      }
    }
    const bool is_named = name == coding || (coding == "gzip" && name == "x-gzip");
    if (is_named) {
      named = named.value_or(false) || accepted;
    } else if (name == "*") {
      star = accepted;
    }
  }
  if (named) return *named;
  return star.value_or(false);
}

bool NoneMatchHits(std::string_view if_none_match, std::string_view etag) {
  if (Trim(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view tag = Trim(if_none_match.substr(0, comma));
    if_none_match.remove_prefix(comma == std::string_view::npos ? if_none_match.size() : comma + 1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

core::Result<std::shared_ptr<const StaticFiles>> StaticFiles::Load(
    const StaticSettings& settings, platform::observe::Registry& registry) {
  std::error_code ec;
  const fs::path& root = settings.root;
  if (!fs::exists(root, ec)) {
    return core::Fail(ErrorCode::kNotFound, "the web app's build is not at " + root.string() +
                                                " (build it with `npm run build` in ui/)");
  }
  if (!fs::is_directory(root, ec)) {
    return core::Fail(ErrorCode::kFailedPrecondition,
                      "the web app's build " + root.string() + " is not a directory");
  }
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec) {
    return core::Fail(ErrorCode::kFailedPrecondition,
                      "cannot resolve " + root.string() + ": " + ec.message());
  }

  std::shared_ptr<StaticFiles> out(new StaticFiles());
  std::map<std::string, std::string, std::less<>> siblings;  // "/x.js.br" -> bytes
  // Directory symlinks are not followed (directory_options::none).
  fs::recursive_directory_iterator it(canonical_root, fs::directory_options::none, ec);
  if (ec) {
    return core::Fail(ErrorCode::kFailedPrecondition,
                      "cannot list " + root.string() + ": " + ec.message());
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    const fs::path rel = entry.path().lexically_relative(canonical_root);
    if (rel.filename().string().starts_with(".")) {
      if (entry.is_directory(ec) && !entry.is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    fs::path source = entry.path();
    if (entry.is_symlink(ec)) {
      const fs::path target = fs::canonical(entry.path(), ec);
      if (ec || !Inside(target, canonical_root) || !fs::is_regular_file(target, ec)) {
        platform::core::LogLine(platform::core::LogLevel::kWarn,
                                "ui: symbolic link not followed (not a file inside the build)")
            .Str("path", entry.path().string());
        ec.clear();
        continue;
      }
      source = target;
    } else if (!entry.is_regular_file(ec)) {
      continue;
    }
    auto data = ReadWhole(source);
    if (!data) return std::unexpected(data.error());
    out->total_bytes_ += data->size();
    if (out->total_bytes_ > settings.max_total_bytes) {
      return core::Fail(ErrorCode::kFailedPrecondition,
                        "the web app's build " + root.string() + " is larger than " +
                            std::to_string(settings.max_total_bytes) +
                            " bytes; is ui.dir the right directory?");
    }
    std::string url = "/" + rel.generic_string();
    if (url.ends_with(".gz") || url.ends_with(".br")) {
      siblings.emplace(std::move(url), std::move(*data));
      continue;
    }
    File file;
    file.content_type = ContentTypeFor(url);
    file.immutable = url.starts_with(kAssetsPrefix);
    file.index = url == kIndexPath;
    file.identity.etag = EtagOf(*data);
    file.identity.body = std::move(*data);
    out->files_.emplace(std::move(url), std::move(file));
  }
  if (ec) {
    return core::Fail(ErrorCode::kFailedPrecondition,
                      "cannot list " + root.string() + ": " + ec.message());
  }

  for (auto& [url, bytes] : siblings) {
    const std::string_view base = std::string_view(url).substr(0, url.size() - 3);
    const auto file = out->files_.find(base);
    if (file == out->files_.end()) continue;  // a stray .gz/.br is never served on its own
    Variant v{std::move(bytes), {}};
    v.etag = EtagOf(v.body);
    (url.ends_with(".br") ? file->second.br : file->second.gzip) = std::move(v);
  }

  const auto index = out->files_.find(kIndexPath);
  if (index == out->files_.end()) {
    return core::Fail(ErrorCode::kFailedPrecondition,
                      "the web app's build " + root.string() +
                          " has no index.html; is ui.dir a Vite build (ui/dist)?");
  }
  out->index_ = &index->second;
  out->csp_ = ContentSecurityPolicyFor(OriginOf(settings.oidc_authority));

  const std::string help = "Web app responses by outcome: the encoding of a file sent, or why not.";
  auto counter = [&](const char* result) {
    return &registry.AddCounter("trellis_static_responses_total", help, {{"result", result}});
  };
  out->counters_.br = counter("br");
  out->counters_.gzip = counter("gzip");
  out->counters_.identity = counter("identity");
  out->counters_.not_modified = counter("not_modified");
  out->counters_.not_found = counter("not_found");
  out->counters_.bad_path = counter("bad_path");
  out->counters_.app_route =
      &registry.AddCounter("trellis_static_app_routes_total",
                           "Paths answered with index.html as one of the web app's routes.", {});
  registry.AddGauge("trellis_static_bytes", "Bytes of the web app's build held in memory.", {})
      .Set(static_cast<double>(out->total_bytes_));
  registry.AddGauge("trellis_static_files", "Files of the web app's build served.", {})
      .Set(static_cast<double>(out->files_.size()));
  return out;
}

http::Response StaticFiles::ServeFile(const File& file, const http::Request& req) const {
  const std::string_view accept = req.HeaderValue("accept-encoding");
  const Variant* variant = &file.identity;
  std::string_view encoding;
  platform::observe::Counter* counter = counters_.identity;
  if (file.br && AcceptsEncoding(accept, "br")) {
    variant = &*file.br;
    encoding = "br";
    counter = counters_.br;
  } else if (file.gzip && AcceptsEncoding(accept, "gzip")) {
    variant = &*file.gzip;
    encoding = "gzip";
    counter = counters_.gzip;
  }
  const bool varies = file.br || file.gzip;

  http::Response r;
  r.headers.reserve(8);
  r.headers.emplace_back("Cache-Control", file.immutable ? kImmutable : kNoCache);
  r.headers.emplace_back("ETag", variant->etag);
  if (varies) r.headers.emplace_back("Vary", "Accept-Encoding");
  if (const auto inm = req.FindHeader("if-none-match"); inm && NoneMatchHits(*inm, variant->etag)) {
    counters_.not_modified->Inc();
    r.status = 304;
    return r;
  }
  counter->Inc();
  r.status = 200;
  r.content_type = file.content_type;
  // A copy per response: Response owns its body. The files are small and hashed ones are
  // cached for a year, so this is cheap next to the socket write.
  r.body = variant->body;
  if (!encoding.empty()) r.headers.emplace_back("Content-Encoding", std::string(encoding));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (file.index) {
    r.headers.emplace_back("Content-Security-Policy", csp_);
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return r;
}

http::Response StaticFiles::Index(const http::Request& req) const {
  return ServeFile(*index_, req);
}

http::Response StaticFiles::Respond(const http::Request& req) const {
  const auto path = DecodePath(req.path);
  if (!path) {
    counters_.bad_path->Inc();
    return http::Problem(core::Error(ErrorCode::kInvalidArgument, "this path is not acceptable"),
                         req.path, req.ctx.request_id);
  }
  if (const auto it = files_.find(*path); it != files_.end()) return ServeFile(it->second, req);
  // One of the web app's own routes (/orgs/acme/board): its index.html, which routes it.
  const std::string_view first = FirstSegment(*path);
  bool reserved = false;
  for (const auto seg : kNoFallbackSegments) reserved = reserved || first == seg;
  if (!reserved && !HasDotSegment(*path)) {
    counters_.app_route->Inc();
    return ServeFile(*index_, req);
  }
  counters_.not_found->Inc();
  return NotFound(req);
}

boost::asio::awaitable<http::Response> StaticFiles::Serve(http::Request& req) const {
  co_return Respond(req);
}

}  // namespace trellis::gateway::static_files
