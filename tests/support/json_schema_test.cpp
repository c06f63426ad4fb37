// The JSON Schema subset the OpenAPI response checks use.
#include "tests/support/json_schema.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace trellis::tests::support {
namespace {

namespace json = boost::json;

class JsonSchemaTest : public ::testing::Test {
 protected:
  // Validates `instance` against `schema` (both JSON text) in a document whose
  // "#/$defs/..." the schema may reference.
  platform::core::Result<void> Check(const std::string& schema, const std::string& instance) {
    root_ = json::parse(R"({"$defs":{"Id":{"type":"string","format":"uuid"},
                            "Node":{"type":"object","properties":{"next":{"$ref":"#/$defs/Node"}},
                                    "additionalProperties":false},
                            "a~b/c":{"const":1}}})");
    JsonSchemaValidator v(root_);
    return v.Validate(json::parse(schema), json::parse(instance));
  }
  // The pointers of the errors, or {} when valid.
  std::vector<std::string> Pointers(const std::string& schema, const std::string& instance) {
    std::vector<std::string> out;
    auto r = Check(schema, instance);
    if (!r) {
      for (const auto& f : r.error().fields) out.push_back(f.pointer);
    }
    return out;
  }
  json::value root_;
};

TEST_F(JsonSchemaTest, Types) {
  EXPECT_TRUE(Check(R"({"type":"string"})", R"("x")"));
  EXPECT_FALSE(Check(R"({"type":"string"})", "1"));
  EXPECT_TRUE(Check(R"({"type":"integer"})", "3"));
  EXPECT_TRUE(Check(R"({"type":"integer"})", "3.0"));
  EXPECT_FALSE(Check(R"({"type":"integer"})", "3.5"));
  EXPECT_TRUE(Check(R"({"type":"number"})", "3.5"));
  EXPECT_TRUE(Check(R"({"type":"boolean"})", "false"));
  EXPECT_TRUE(Check(R"({"type":"null"})", "null"));
  EXPECT_TRUE(Check(R"({"type":["string","null"]})", "null"));
  EXPECT_TRUE(Check(R"({"type":["string","null"]})", R"("a")"));
  EXPECT_FALSE(Check(R"({"type":["string","null"]})", "7"));
  EXPECT_TRUE(Check(R"({"type":"array"})", "[]"));
  EXPECT_FALSE(Check(R"({"type":"object"})", "[]"));
  EXPECT_TRUE(Check("true", "1"));
  EXPECT_FALSE(Check("false", "1"));
}

TEST_F(JsonSchemaTest, ObjectsNamePointersOfTheOffendingValues) {
  const std::string ok_schema = R"({"type":"object","required":["id"],
      "properties":{"id":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},
      "additionalProperties":false})";
  EXPECT_TRUE(Check(ok_schema, R"({"id":"a","tags":["x"]})"));
  EXPECT_EQ(Pointers(ok_schema, R"({"id":1,"tags":["x",2],"extra":true,"a/b":0})"),
            (std::vector<std::string>{"/id", "/tags/1", "/extra", "/a~1b"}));
  EXPECT_EQ(Pointers(ok_schema, "{}"), (std::vector<std::string>{""}));
  auto missing = Check(ok_schema, "{}");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing required property \"id\""), std::string::npos);
}

TEST_F(JsonSchemaTest, AdditionalPropertiesSchema) {
  const std::string schema = R"({"type":"object","additionalProperties":{"type":"integer"}})";
  EXPECT_TRUE(Check(schema, R"({"a":1,"b":2})"));
  EXPECT_EQ(Pointers(schema, R"({"a":1,"b":"x"})"), (std::vector<std::string>{"/b"}));
}

TEST_F(JsonSchemaTest, EnumConstAndLengthsInCodePoints) {
  EXPECT_TRUE(Check(R"({"enum":["todo","done"]})", R"("done")"));
  EXPECT_FALSE(Check(R"({"enum":["todo","done"]})", R"("lost")"));
  EXPECT_TRUE(Check(R"({"const":2})", "2.0"));
  EXPECT_FALSE(Check(R"({"const":"a"})", R"("b")"));
  // "héllo" is 5 code points, 6 bytes.
  EXPECT_TRUE(Check(R"({"type":"string","maxLength":5})", "\"h\u00e9llo\""));
  EXPECT_FALSE(Check(R"({"type":"string","maxLength":4})", "\"h\u00e9llo\""));
  EXPECT_FALSE(Check(R"({"type":"string","minLength":1})", R"("")"));
}

TEST_F(JsonSchemaTest, NumbersAndArrays) {
  EXPECT_TRUE(Check(R"({"minimum":1,"maximum":200})", "200"));
  EXPECT_FALSE(Check(R"({"minimum":1,"maximum":200})", "201"));
  EXPECT_FALSE(Check(R"({"minimum":1})", "0"));
  EXPECT_FALSE(Check(R"({"exclusiveMinimum":0})", "0"));
  EXPECT_TRUE(Check(R"({"minItems":1,"maxItems":2})", "[1,2]"));
  EXPECT_FALSE(Check(R"({"minItems":1})", "[]"));
  EXPECT_FALSE(Check(R"({"maxItems":1})", "[1,2]"));
}

TEST_F(JsonSchemaTest, FormatsAndPattern) {
  EXPECT_TRUE(Check(R"({"format":"uuid"})", R"("018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e")"));
  EXPECT_FALSE(Check(R"({"format":"uuid"})", R"("018f3c1e7d2a7b3c9a4e5f6a7b8c9d0e")"));
  EXPECT_TRUE(Check(R"({"format":"date-time"})", R"("2026-11-24T10:00:00.000Z")"));
  EXPECT_FALSE(Check(R"({"format":"date-time"})", R"("2026-11-24 10:00:00Z")"));
  EXPECT_TRUE(Check(R"({"format":"unknown-format"})", R"("anything")"));
  EXPECT_TRUE(Check(R"({"pattern":"^[a-z][a-z0-9-]*$"})", R"("acme-1")"));
  EXPECT_FALSE(Check(R"({"pattern":"^[a-z][a-z0-9-]*$"})", R"("Acme")"));
  EXPECT_TRUE(Check(R"({"pattern":"b"})", R"("abc")"));  // unanchored
}

TEST_F(JsonSchemaTest, Rfc3339) {
  EXPECT_TRUE(IsRfc3339DateTime("2026-11-24T10:00:00Z"));
  EXPECT_TRUE(IsRfc3339DateTime("2026-11-24t10:00:00.123456+05:30"));
  EXPECT_TRUE(IsRfc3339DateTime("2024-02-29T23:59:60Z"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-02-29T00:00:00Z"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-11-24T24:00:00Z"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-11-24T10:00:00"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-11-24T10:00:00.Z"));
  EXPECT_FALSE(IsRfc3339DateTime("2026-11-24T10:00:00+0530"));
}

TEST_F(JsonSchemaTest, Combinators) {
  EXPECT_TRUE(Check(R"({"allOf":[{"type":"integer"},{"minimum":2}]})", "3"));
  EXPECT_FALSE(Check(R"({"allOf":[{"type":"integer"},{"minimum":2}]})", "1"));
  EXPECT_TRUE(Check(R"({"anyOf":[{"type":"string"},{"type":"integer"}]})", "1"));
  EXPECT_FALSE(Check(R"({"anyOf":[{"type":"string"},{"type":"integer"}]})", "true"));
  EXPECT_TRUE(Check(R"({"oneOf":[{"type":"string"},{"type":"integer"}]})", "1"));
  EXPECT_FALSE(Check(R"({"oneOf":[{"type":"number"},{"type":"integer"}]})", "1"));
}

TEST_F(JsonSchemaTest, RefsIncludingRecursiveAndEscaped) {
  EXPECT_TRUE(Check(R"({"$ref":"#/$defs/Id"})", R"("018f3c1e-7d2a-7b3c-9a4e-5f6a7b8c9d0e")"));
  EXPECT_FALSE(Check(R"({"$ref":"#/$defs/Id"})", R"("nope")"));
  EXPECT_TRUE(Check(R"({"$ref":"#/$defs/Node"})", R"({"next":{"next":{}}})"));
  EXPECT_EQ(Pointers(R"({"$ref":"#/$defs/Node"})", R"({"next":{"next":{"x":1}}})"),
            (std::vector<std::string>{"/next/next/x"}));
  EXPECT_TRUE(Check(R"({"$ref":"#/$defs/a~0b~1c"})", "1"));
  EXPECT_FALSE(Check(R"({"$ref":"#/$defs/Missing"})", "1"));
}

}  // namespace
}  // namespace trellis::tests::support
