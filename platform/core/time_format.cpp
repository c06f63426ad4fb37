#include "platform/core/time_format.hpp"

#include <chrono>
#include <cstdio>

namespace trellis::platform::core {
namespace {

namespace chr = std::chrono;

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool ValidYmd(int y, int m, int d) {
  return chr::year_month_day(chr::year(y), chr::month(static_cast<unsigned>(m)),
                             chr::day(static_cast<unsigned>(d)))
      .ok();
}

}  // namespace

std::string FormatRfc3339Ms(std::int64_t unix_ms) {
  const chr::sys_time<chr::milliseconds> t{chr::milliseconds(unix_ms)};
  const auto day = chr::floor<chr::days>(t);
  const chr::year_month_day ymd(day);
  const chr::hh_mm_ss hms(t - day);
  const int year = static_cast<int>(ymd.year());
  if (year >= 0 && year <= 9999) {
    // By hand: list pages format two timestamps per item, and snprintf showed in profiles.
    std::string out = "0000-00-00T00:00:00.000Z";
    auto put = [&out](std::size_t at, std::size_t width, unsigned value) {
      for (std::size_t i = width; i > 0; --i, value /= 10) {
        out[at + i - 1] = static_cast<char>('0' + value % 10);
      }
    };
    put(0, 4, static_cast<unsigned>(year));
    put(5, 2, static_cast<unsigned>(ymd.month()));
    put(8, 2, static_cast<unsigned>(ymd.day()));
    put(11, 2, static_cast<unsigned>(hms.hours().count()));
    put(14, 2, static_cast<unsigned>(hms.minutes().count()));
    put(17, 2, static_cast<unsigned>(hms.seconds().count()));
    put(20, 3, static_cast<unsigned>(hms.subseconds().count()));
    return out;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

bool IsValidDate(std::string_view s) {
  int y = 0, m = 0, d = 0;
  return s.size() == 10 && Digits(s, 0, 4, y) && s[4] == '-' && Digits(s, 5, 2, m) && s[7] == '-' &&
         Digits(s, 8, 2, d) && ValidYmd(y, m, d);
}

Result<std::int64_t> ParseRfc3339Ms(std::string_view s) {
  auto bad = [] { return Fail(ErrorCode::kInvalidArgument, "not an RFC 3339 date-time"); };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || !IsValidDate(s.substr(0, 10))) return bad();
  if (s[10] != 'T' && s[10] != 't') return bad();
  if (!Digits(s, 0, 4, y) || !Digits(s, 5, 2, mo) || !Digits(s, 8, 2, d)) return bad();
  if (!Digits(s, 11, 2, h) || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' ||
      !Digits(s, 17, 2, sec)) {
    return bad();
  }
  if (h > 23 || mi > 59 || sec > 59) return bad();  // leap seconds are not accepted
  std::size_t pos = 19;
  int millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    const std::size_t n = pos - start;
    if (n == 0 || n > 9) return bad();
    for (std::size_t i = 0; i < 3; ++i) millis = millis * 10 + (i < n ? s[start + i] - '0' : 0);
  }
  int offset_min = 0;
  if (pos == s.size()) return bad();
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  const auto days = chr::sys_days(chr::year_month_day(
      chr::year(y), chr::month(static_cast<unsigned>(mo)), chr::day(static_cast<unsigned>(d))));
  const auto t = days + chr::hours(h) + chr::minutes(mi - offset_min) + chr::seconds(sec) +
                 chr::milliseconds(millis);
  return chr::duration_cast<chr::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace trellis::platform::core
