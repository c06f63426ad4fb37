// The public API contract (api/openapi.yaml, OpenAPI 3.1) for tests: its operations, a diff
// against an http::Router's routes, and validation of responses against their schemas.
//
//   auto spec = OpenApiSpec::Load(TRELLIS_SOURCE_DIR "/api/openapi.yaml");
//   auto diff = CompareRoutes(*spec, router.Routes(), {"/api/", "/.well-known/", "/oauth2/"});
//   EXPECT_TRUE(diff.Empty()) << diff.ToString();
//   EXPECT_TRUE(spec->ValidateResponse("GET", "/api/v1/me", 200, "application/json", body));
#pragma once

#include <boost/json/value.hpp>
#include <compare>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/http/router.hpp"

namespace trellis::tests::support {

// One operation: an upper-case method and a path template ("/api/v1/orgs/{org}").
struct Operation {
  std::string method;
  std::string path;
  friend auto operator<=>(const Operation&, const Operation&) = default;
};

class OpenApiSpec {
 public:
  // Reads and converts the YAML file; kInvalidArgument when it is not YAML, has no `paths`
  // object, or holds a local $ref that resolves to nothing. Only local refs ("#/...") are
  // supported; others are refused.
  [[nodiscard]] static platform::core::Result<OpenApiSpec> Load(const std::filesystem::path& path);
  // The same from YAML (or JSON) text.
  [[nodiscard]] static platform::core::Result<OpenApiSpec> Parse(std::string_view yaml);

  // The whole document as JSON; $refs stay in place and are followed on use (so recursive
  // schemas work).
  [[nodiscard]] const boost::json::value& Document() const { return *document_; }

  // Every (METHOD, path template) under `paths`.
  [[nodiscard]] std::set<Operation> Operations() const;

  // Finds the operation's response for `status` (the exact code, then "4XX"-style ranges, then
  // "default"), checks that `content_type` (parameters ignored) is declared for it, and
  // validates the body against the media type's schema when it is JSON. A response declared
  // without content must have an empty body. Errors say what failed; schema violations carry
  // one FieldError per offending JSON pointer.
  [[nodiscard]] platform::core::Result<void> ValidateResponse(std::string_view method,
                                                              std::string_view path_template,
                                                              int status,
                                                              std::string_view content_type,
                                                              std::string_view body) const;

  // Follows $ref chains (local only) from `value`; nullptr when one does not resolve.
  [[nodiscard]] const boost::json::value* Deref(const boost::json::value& value) const;

 private:
  explicit OpenApiSpec(boost::json::value document);
  // Heap-allocated so that references into it survive moves of the spec.
  std::shared_ptr<const boost::json::value> document_;
};

// Routes and spec operations compared for the router patterns that start with one of
// `prefixes` (all spec operations take part).
struct RouteDiff {
  std::vector<std::string> only_in_spec;    // "GET /api/v1/me" documented, not routed
  std::vector<std::string> only_in_router;  // routed, not documented
  [[nodiscard]] bool Empty() const { return only_in_spec.empty() && only_in_router.empty(); }
  // One line per difference, readable in a test failure.
  [[nodiscard]] std::string ToString() const;
};

[[nodiscard]] RouteDiff CompareRoutes(const OpenApiSpec& spec,
                                      const std::vector<platform::http::RouteInfo>& routes,
                                      const std::vector<std::string>& prefixes);

}  // namespace trellis::tests::support
