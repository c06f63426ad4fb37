#include "platform/rest/etag.hpp"

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace trellis::platform::rest {
namespace {

struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // between the quotes
};

struct TagList {
  bool any = false;
  std::vector<EntityTag> tags;
};

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 8.8.3)
bool IsEtagChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x7E) || u >= 0x80;
}

// Appends the elements of one field line: "*" / #entity-tag, empty list elements allowed.
bool ParseLine(std::string_view v, TagList& out, std::size_t& elements) {
  std::size_t i = 0;
  const auto skip = [&] {
    while (i < v.size() && (IsOws(v[i]) || v[i] == ',')) ++i;
  };
  skip();
  while (i < v.size()) {
    if (v[i] == '*') {
      out.any = true;
      ++i;
    } else {
      EntityTag tag;
      if (v.substr(i, 2) == "W/") {
        tag.weak = true;
        i += 2;
      }
      if (i >= v.size() || v[i] != '"') return false;
      const std::size_t start = ++i;
      while (i < v.size() && IsEtagChar(v[i])) ++i;
      if (i >= v.size() || v[i] != '"') return false;
      tag.opaque = v.substr(start, i - start);
      ++i;
      out.tags.push_back(tag);
    }
    ++elements;
    while (i < v.size() && IsOws(v[i])) ++i;
    if (i < v.size() && v[i] != ',') return false;
    skip();
  }
  return true;
}

// Every field line of `name` combined; nullopt when there is none. `valid` is false when any
// line is malformed.
std::optional<TagList> ParseHeader(const http::Request& req, std::string_view name, bool& valid) {
  std::optional<TagList> out;
  std::size_t elements = 0;
  valid = true;
  for (const auto& h : req.headers) {
    if (!http::EqualsIgnoreCase(h.name, name)) continue;
    if (!out) out.emplace();
    if (!ParseLine(h.value, *out, elements)) valid = false;
  }
  // "*" stands alone, and a present header lists at least one element.
  if (out && (elements == 0 || (out->any && elements != 1))) valid = false;
  return out;
}

// The version a tag names when it is ours: the canonical decimal form ETag writes.
std::optional<std::int64_t> OurVersion(std::string_view opaque) {
  std::int64_t v = 0;
  const char* end = opaque.data() + opaque.size();
  auto [ptr, ec] = std::from_chars(opaque.data(), end, v);
  if (ec != std::errc() || ptr != end || opaque.empty()) return std::nullopt;
  if (std::to_string(v) != opaque) return std::nullopt;  // leading zeros, "+"
  return v;
}

}  // namespace

std::string ETag(std::int64_t version) { return "\"" + std::to_string(version) + "\""; }

bool IfMatch::Matches(std::int64_t version) const {
  if (any) return true;
  for (auto v : versions) {
    if (v == version) return true;
  }
  return false;
}

core::Result<IfMatch> RequireIfMatch(const http::Request& req) {
  bool valid = true;
  auto list = ParseHeader(req, "If-Match", valid);
  if (!list) {
    return core::Fail(core::ErrorCode::kPreconditionRequired, "If-Match is required",
                      "no If-Match header on a conditional method");
  }
  if (!valid) {
    return core::Fail(core::ErrorCode::kInvalidArgument,
                      "If-Match must be \"*\" or a list of entity tags", "malformed If-Match");
  }
  IfMatch out;
  out.any = list->any;
  for (const auto& tag : list->tags) {
    if (tag.weak) continue;  // strong comparison: a weak tag never matches
    if (auto v = OurVersion(tag.opaque)) out.versions.push_back(*v);
  }
  return out;
}

core::Error PreconditionFailed() {
  return core::Error(core::ErrorCode::kFailedPrecondition, "the resource has changed",
                     "If-Match does not match the current version");
}

bool NotModified(const http::Request& req, std::int64_t version) {
  bool valid = true;
  auto list = ParseHeader(req, "If-None-Match", valid);
  if (!list || !valid) return false;
  if (list->any) return true;
  for (const auto& tag : list->tags) {  // weak comparison (RFC 9110 13.1.2)
    if (auto v = OurVersion(tag.opaque); v && *v == version) return true;
  }
  return false;
}

}  // namespace trellis::platform::rest
