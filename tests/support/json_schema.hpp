// A small JSON Schema (2020-12 subset) validator for checking API responses against
// api/openapi.yaml in tests.
//
//   JsonSchemaValidator v(spec_document);                  // resolves "#/..." $refs in it
//   auto ok = v.Validate(schema, boost::json::parse(body)); // errors name JSON pointers
//
// Hand-written because Debian packages no C++ JSON Schema validator, and the API's schemas use
// a small, fixed set of keywords. Supported: boolean schemas, $ref (local "#/..."), type (one
// or an array; "integer" is any integral number), enum, const, properties, required,
// additionalProperties (false or a schema), items, minItems, maxItems, minLength and maxLength
// (code points), minimum, maximum, exclusiveMinimum, exclusiveMaximum, pattern (std::regex
// ECMAScript, unanchored as the spec says), format "uuid" and "date-time" (RFC 3339), allOf,
// anyOf, oneOf. Other keywords (description, example, …) are ignored; so are unknown formats.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/error.hpp"

namespace trellis::tests::support {

class JsonSchemaValidator {
 public:
  // `root` is the document "#/..." references point into; it must outlive the validator.
  explicit JsonSchemaValidator(const boost::json::value& root) : root_(root) {}

  // Success, or kValidation with one FieldError per violation (pointer of the offending value
  // in `instance`, "" for the root) and a message listing them.
  [[nodiscard]] platform::core::Result<void> Validate(const boost::json::value& schema,
                                                      const boost::json::value& instance) const;

  // The value a local reference ("#/components/schemas/Task", with RFC 6901 escapes) points at,
  // or nullptr.
  [[nodiscard]] const boost::json::value* Resolve(std::string_view ref) const;

 private:
  void Check(const boost::json::value& schema, const boost::json::value& instance,
             const std::string& pointer, std::vector<platform::core::FieldError>& errors,
             int depth) const;

  const boost::json::value& root_;
};

// Whether text is an RFC 3339 date-time ("2026-11-24T10:00:00.000Z", offsets allowed).
[[nodiscard]] bool IsRfc3339DateTime(std::string_view text);

}  // namespace trellis::tests::support
