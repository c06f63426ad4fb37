// OpenApiSpec: loading YAML with $refs, operations, the route diff and response validation,
// on a small sample spec; and the project's api/openapi.yaml when it exists.
#include "tests/support/openapi.hpp"

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace trellis::tests::support {
namespace {

using platform::core::ErrorCode;
namespace http = platform::http;

constexpr const char* kSample = R"yaml(
openapi: 3.1.0
info: {title: sample, version: "1"}
paths:
  /api/v1/orgs/{org}/projects:
    get:
      responses:
        "200":
          description: a page
          content:
            application/json:
              schema:
                type: object
                required: [items, next_cursor]
                additionalProperties: false
                properties:
                  items: {type: array, items: {$ref: "#/components/schemas/Project"}}
                  next_cursor: {type: [string, "null"]}
        4XX: {$ref: "#/components/responses/Problem"}
    post:
      responses:
        201:
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Project"}
        default: {$ref: "#/components/responses/Problem"}
  /api/v1/orgs/{org}/projects/{project}:
    parameters:
      - {name: org, in: path, required: true, schema: {type: string}}
    delete:
      responses:
        "204": {description: deleted}
  /api/v1/me:
    get:
      responses:
        "200":
          description: me
          content:
            application/json:
              schema:
                type: object
                properties:
                  name: {type: string, maxLength: 5}
                  quoted: {const: "123"}
                  count: {const: 123}
                  on: {const: true}
components:
  schemas:
    Project:
      type: object
      required: [id, name, created_at, archived]
      additionalProperties: false
      properties:
        id: {type: string, format: uuid}
        name: {type: string, minLength: 1, maxLength: 100}
        created_at: {type: string, format: date-time}
        archived: {type: boolean}
        status: {enum: [active, archived]}
  responses:
    Problem:
      description: problem
      content:
        application/problem+json:
          schema:
            type: object
            required: [type, title, status]
            properties:
              status: {type: integer, minimum: 400, maximum: 599}
)yaml";

constexpr const char* kProject = R"({"id":"018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e","name":"Apollo",)"
                                 R"("created_at":"2026-11-24T10:00:00.000Z","archived":false})";

OpenApiSpec Sample() {
  auto spec = OpenApiSpec::Parse(kSample);
  EXPECT_TRUE(spec.has_value()) << spec.error().message;
  return std::move(*spec);
}

TEST(OpenApiTest, LoadsAFileAndConvertsScalars) {
  TempDir dir;
  const auto path = dir.Path() / "openapi.yaml";
  std::ofstream(path) << kSample;
  auto spec = OpenApiSpec::Load(path);
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  const auto& me = spec->Document()
                       .at("paths")
                       .at("/api/v1/me")
                       .at("get")
                       .at("responses")
                       .at("200")
                       .at("content")
                       .at("application/json")
                       .at("schema")
                       .at("properties");
  EXPECT_TRUE(me.at("quoted").at("const").is_string());
  EXPECT_TRUE(me.at("count").at("const").is_int64());
  EXPECT_TRUE(me.at("on").at("const").is_bool());
  EXPECT_TRUE(spec->Document()
                  .at("paths")
                  .at("/api/v1/orgs/{org}/projects")
                  .at("post")
                  .at("responses")
                  .as_object()
                  .contains("201"));  // integer key as text
  EXPECT_FALSE(OpenApiSpec::Load(dir.Path() / "missing.yaml").has_value());
}

TEST(OpenApiTest, RefusesBrokenDocuments) {
  EXPECT_FALSE(OpenApiSpec::Parse("paths: [unclosed").has_value());
  EXPECT_FALSE(OpenApiSpec::Parse("openapi: 3.1.0\n").has_value());
  auto dangling = OpenApiSpec::Parse(
      "paths:\n  /x:\n    get:\n      responses:\n        '200': {$ref: '#/components/nope'}\n");
  ASSERT_FALSE(dangling.has_value());
  EXPECT_NE(dangling.error().message.find("#/components/nope"), std::string::npos);
  auto remote = OpenApiSpec::Parse("paths: {}\nx: {$ref: 'other.yaml#/a'}\n");
  EXPECT_FALSE(remote.has_value());
}

TEST(OpenApiTest, Operations) {
  auto ops = Sample().Operations();
  const std::set<Operation> expected = {{"GET", "/api/v1/orgs/{org}/projects"},
                                        {"POST", "/api/v1/orgs/{org}/projects"},
                                        {"DELETE", "/api/v1/orgs/{org}/projects/{project}"},
                                        {"GET", "/api/v1/me"}};
  EXPECT_EQ(ops, expected);
}

TEST(OpenApiTest, ComparesWithTheRouterBothWays) {
  http::Router router;
  const http::Handler none = [](http::Request&) -> boost::asio::awaitable<http::Response> {
    co_return http::Response::Json(200, "{}");
  };
  router.Add(http::Method::kGet, "/api/v1/orgs/{org}/projects", none);
  router.Add(http::Method::kPost, "/api/v1/orgs/{org}/projects", none);
  router.Add(http::Method::kPatch, "/api/v1/orgs/{org}/projects/{project}", none);
  router.Add(http::Method::kGet, "/api/v1/me", none);
  router.Add(http::Method::kGet, "/healthz", none);  // outside the prefixes
  auto diff = CompareRoutes(Sample(), router.Routes(), {"/api/"});
  EXPECT_FALSE(diff.Empty());
  EXPECT_EQ(diff.only_in_spec,
            (std::vector<std::string>{"DELETE /api/v1/orgs/{org}/projects/{project}"}));
  EXPECT_EQ(diff.only_in_router,
            (std::vector<std::string>{"PATCH /api/v1/orgs/{org}/projects/{project}"}));
  EXPECT_NE(diff.ToString().find("routed, not documented in the spec: PATCH"), std::string::npos);

  http::Router exact;
  exact.Add(http::Method::kGet, "/api/v1/orgs/{org}/projects", none);
  exact.Add(http::Method::kPost, "/api/v1/orgs/{org}/projects", none);
  exact.Add(http::Method::kDelete, "/api/v1/orgs/{org}/projects/{project}", none);
  exact.Add(http::Method::kGet, "/api/v1/me", none);
  EXPECT_TRUE(CompareRoutes(Sample(), exact.Routes(), {"/api/"}).Empty());
}

TEST(OpenApiTest, ValidResponsesPass) {
  auto spec = Sample();
  const std::string page = std::string(R"({"items":[)") + kProject + R"(],"next_cursor":null})";
  EXPECT_TRUE(spec.ValidateResponse("GET", "/api/v1/orgs/{org}/projects", 200,
                                    "application/json; charset=utf-8", page));
  EXPECT_TRUE(spec.ValidateResponse("post", "/api/v1/orgs/{org}/projects", 201, "application/json",
                                    kProject));
  EXPECT_TRUE(
      spec.ValidateResponse("DELETE", "/api/v1/orgs/{org}/projects/{project}", 204, "", ""));
}

TEST(OpenApiTest, StatusRangesAndDefault) {
  auto spec = Sample();
  const std::string problem = R"({"type":"t","title":"Not Found","status":404})";
  EXPECT_TRUE(spec.ValidateResponse("GET", "/api/v1/orgs/{org}/projects", 404,
                                    "application/problem+json", problem));
  auto undocumented = spec.ValidateResponse("GET", "/api/v1/orgs/{org}/projects", 500,
                                            "application/problem+json", problem);
  ASSERT_FALSE(undocumented);
  EXPECT_NE(undocumented.error().message.find("500 is not documented"), std::string::npos);
  const std::string server = R"({"type":"t","title":"Internal","status":500})";
  EXPECT_TRUE(spec.ValidateResponse("POST", "/api/v1/orgs/{org}/projects", 500,
                                    "application/problem+json", server));  // default
  auto bad_status =
      spec.ValidateResponse("POST", "/api/v1/orgs/{org}/projects", 503, "application/problem+json",
                            R"({"type":"t","title":"x","status":"503"})");
  ASSERT_FALSE(bad_status);
  EXPECT_EQ(bad_status.error().fields.at(0).pointer, "/status");
}

TEST(OpenApiTest, SchemaViolationsNameThePointer) {
  auto spec = Sample();
  const std::string bad = R"({"items":[{"id":"nope","name":"","created_at":"yesterday",)"
                          R"("archived":false,"owner":"x"}],"next_cursor":7})";
  auto r =
      spec.ValidateResponse("GET", "/api/v1/orgs/{org}/projects", 200, "application/json", bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kValidation);
  std::vector<std::string> pointers;
  for (const auto& f : r.error().fields) pointers.push_back(f.pointer);
  EXPECT_EQ(pointers,
            (std::vector<std::string>{"/items/0/id", "/items/0/name", "/items/0/created_at",
                                      "/items/0/owner", "/next_cursor"}));
  EXPECT_NE(r.error().message.find("GET /api/v1/orgs/{org}/projects 200"), std::string::npos);
}

TEST(OpenApiTest, ContentTypeAndBodyChecks) {
  auto spec = Sample();
  auto wrong_type =
      spec.ValidateResponse("POST", "/api/v1/orgs/{org}/projects", 201, "text/plain", kProject);
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().code, ErrorCode::kUnsupportedMedia);
  EXPECT_FALSE(spec.ValidateResponse("POST", "/api/v1/orgs/{org}/projects", 201, "application/json",
                                     "{not json"));
  EXPECT_FALSE(spec.ValidateResponse("DELETE", "/api/v1/orgs/{org}/projects/{project}", 204, "",
                                     "{}"));  // no content declared
  auto no_op = spec.ValidateResponse("PUT", "/api/v1/me", 200, "application/json", "{}");
  ASSERT_FALSE(no_op);
  EXPECT_EQ(no_op.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(
      spec.ValidateResponse("GET", "/api/v1/me", 200, "application/json", R"({"name":"toolong"})"));
}

// The project's contract, once it exists: every $ref resolves and every operation is /api/
// or an OIDC path.
TEST(OpenApiTest, TheProjectSpecLoads) {
  const std::filesystem::path path = std::filesystem::path(TRELLIS_SOURCE_DIR) / "api/openapi.yaml";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no api/openapi.yaml yet";
  auto spec = OpenApiSpec::Load(path);
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_FALSE(spec->Operations().empty());
}

}  // namespace
}  // namespace trellis::tests::support
