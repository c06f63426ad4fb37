#include "platform/core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "platform/core/clock.hpp"

namespace trellis::platform::core {

namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<LogTap> g_tap{nullptr};

std::shared_ptr<spdlog::logger> Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("trellis",
                                              std::make_shared<spdlog::sinks::stdout_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return logger;
}

std::string_view LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  const auto now = SystemClock::Instance().Now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

void InitLogging(const LogSettings& settings) {
  LogLevel level = LogLevel::kInfo;
  if (settings.level == "debug") level = LogLevel::kDebug;
  if (settings.level == "warn") level = LogLevel::kWarn;
  if (settings.level == "error") level = LogLevel::kError;
  g_min_level = static_cast<int>(level);
  Logger();
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

void SetLogTap(LogTap tap) { g_tap = tap; }

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

LogLine::LogLine(LogLevel level, std::string_view message)
    : level_(level), enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  text_.reserve(256);
  text_ += "{\"ts\":\"";
  text_ += Timestamp();
  text_ += "\",\"level\":\"";
  text_ += LevelName(level);
  text_ += "\",\"msg\":";
  AppendJsonString(text_, message);
}

LogLine::~LogLine() {
  if (!enabled_) return;
  text_ += '}';
  if (auto tap = g_tap.load()) tap(text_);
  Logger()->info(text_);
}

LogLine& LogLine::Str(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  text_ += ',';
  AppendJsonString(text_, key);
  text_ += ':';
  AppendJsonString(text_, value);
  return *this;
}

LogLine& LogLine::Int(std::string_view key, std::int64_t value) {
  if (!enabled_) return *this;
  text_ += ',';
  AppendJsonString(text_, key);
  text_ += ':';
  text_ += std::to_string(value);
  return *this;
}

LogLine& LogLine::Num(std::string_view key, double value) {
  if (!enabled_) return *this;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  text_ += ',';
  AppendJsonString(text_, key);
  text_ += ':';
  text_ += buf;
  return *this;
}

LogLine& LogLine::Bool(std::string_view key, bool value) {
  if (!enabled_) return *this;
  text_ += ',';
  AppendJsonString(text_, key);
  text_ += value ? ":true" : ":false";
  return *this;
}

}  // namespace trellis::platform::core
