// Query parameters of list endpoints: sort order and enumerated filters, refused with 422 and a
// field error at "/<parameter>" when out of their allowed sets.
//
//   auto sort = rest::ParseSort(req, {"created", "title"}, {.field = "created", .descending =
//   true}); auto status = rest::ParseFilter(req, "status", {"todo", "doing", "done"});   //
//   optional std::string binding = rest::Binding({{"status", status->value_or("")}, {"sort",
//   rest::SortText(*sort)}});
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"

namespace trellis::platform::rest {

struct Sort {
  std::string field;
  bool descending = false;
};

// `sort=field` or `sort=-field` with field among `allowed`; absent -> fallback; anything else
// -> 422 kValidation with a field error at "/sort" listing the allowed values.
[[nodiscard]] core::Result<Sort> ParseSort(const http::Request& req,
                                           const std::vector<std::string>& allowed, Sort fallback);

// The `sort` text of a Sort ("-created").
[[nodiscard]] std::string SortText(const Sort& sort);

// An optional filter whose value must be one of `allowed`: absent -> nullopt; else 422 at
// "/<name>".
[[nodiscard]] core::Result<std::optional<std::string>> ParseFilter(
    const http::Request& req, std::string_view name, const std::vector<std::string>& allowed);

// A canonical binding string for ParsePage/EncodeCursor from (name, value) pairs, in the
// order given: "name=value&…" with '&', '=' and '%' in values percent-escaped.
[[nodiscard]] std::string Binding(
    const std::vector<std::pair<std::string_view, std::string_view>>& parts);

}  // namespace trellis::platform::rest
