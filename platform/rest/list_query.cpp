#include "platform/rest/list_query.hpp"

#include <algorithm>

namespace trellis::platform::rest {
namespace {

std::string JoinAllowed(const std::vector<std::string>& allowed) {
  std::string out;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i) out += ", ";
    out += allowed[i];
  }
  return out;
}

core::Error InvalidParameter(std::string_view name, std::string detail) {
  core::Error e(core::ErrorCode::kValidation, "invalid query parameters");
  e.fields.push_back(core::FieldError{"/" + std::string(name), std::move(detail)});
  return e;
}

bool Contains(const std::vector<std::string>& allowed, std::string_view value) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

core::Result<Sort> ParseSort(const http::Request& req, const std::vector<std::string>& allowed,
                             Sort fallback) {
  auto text = req.QueryParam("sort");
  if (!text) return fallback;
  Sort sort;
  std::string_view field(*text);
  if (!field.empty() && field.front() == '-') {
    sort.descending = true;
    field.remove_prefix(1);
  }
  if (field.empty() || !Contains(allowed, field)) {
    return std::unexpected(InvalidParameter(
        "sort", "must be one of " + JoinAllowed(allowed) + ", optionally prefixed by '-'"));
  }
  sort.field = std::string(field);
  return sort;
}

std::string SortText(const Sort& sort) { return (sort.descending ? "-" : "") + sort.field; }

core::Result<std::optional<std::string>> ParseFilter(const http::Request& req,
                                                     std::string_view name,
                                                     const std::vector<std::string>& allowed) {
  auto value = req.QueryParam(name);
  if (!value) return std::optional<std::string>();
  if (!Contains(allowed, *value)) {
    return std::unexpected(InvalidParameter(name, "must be one of " + JoinAllowed(allowed)));
  }
  return std::optional<std::string>(std::move(*value));
}

std::string Binding(const std::vector<std::pair<std::string_view, std::string_view>>& parts) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '&';
    out.append(parts[i].first);
    out += '=';
    for (char c : parts[i].second) {
      if (c == '&' || c == '=' || c == '%') {
        const auto u = static_cast<unsigned char>(c);
        out += '%';
        out += kHex[u >> 4];
        out += kHex[u & 15];
      } else {
        out += c;
      }
    }
  }
  return out;
}

}  // namespace trellis::platform::rest
