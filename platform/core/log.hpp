// Structured logs: one JSON object per line on stdout, through spdlog.
//
//   InitLogging({.level = "info"});
//   LogLine(LogLevel::kInfo, "server started").Int("port", 8080).Str("address", "127.0.0.1");
//
// A LogLine writes itself when it goes out of scope. Never put a secret in one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trellis::platform::core {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogSettings {
  std::string level = "info";  // debug, info, warn, error
};

// Sets up the process-wide logger. Call once from the composition root; safe to call again.
void InitLogging(const LogSettings& settings);
[[nodiscard]] bool LogEnabled(LogLevel level);

// Test hook: every emitted line is also handed to this function (nullptr to stop).
using LogTap = void (*)(std::string_view line);
void SetLogTap(LogTap tap);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view message);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Str(std::string_view key, std::string_view value);
  LogLine& Int(std::string_view key, std::int64_t value);
  LogLine& Num(std::string_view key, double value);
  LogLine& Bool(std::string_view key, bool value);

 private:
  LogLevel level_;
  bool enabled_;
  std::string text_;
};

// A line with only a message.
inline void Log(LogLevel level, std::string_view message) { LogLine line(level, message); }

// Appends `s` as a JSON string literal (with quotes) to `out`.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace trellis::platform::core
