// RFC 3339 timestamps as the public API writes and reads them: UTC, milliseconds, "Z".
//
//   std::string s = FormatRfc3339Ms(1795000000123);      // "2026-11-18T...:40.123Z"
//   auto ms = ParseRfc3339Ms("2026-11-24T10:00:00Z");     // Result<std::int64_t>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "platform/core/error.hpp"

namespace trellis::platform::core {

// Unix milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ".
[[nodiscard]] std::string FormatRfc3339Ms(std::int64_t unix_ms);
// RFC 3339 date-time with any offset ("Z", "+02:00") and 0-9 fraction digits, to Unix ms
// (fraction truncated to ms). kInvalidArgument otherwise.
[[nodiscard]] Result<std::int64_t> ParseRfc3339Ms(std::string_view text);
// A full-date "YYYY-MM-DD" that exists in the proleptic Gregorian calendar.
[[nodiscard]] bool IsValidDate(std::string_view text);

}  // namespace trellis::platform::core
