// Configuration: a schema of typed keys, filled from defaults < YAML file < TRELLIS_* variables.
//
// Only the composition root reads a Config; it hands plain settings structs to the code it
// builds. Keys are dotted ("http.port"); the variable for a key is TRELLIS_ plus the key in
// upper case with dots as underscores (TRELLIS_HTTP_PORT). A key of kind kSecret may instead
// be given as "<key>_file" (TRELLIS_<KEY>_FILE), read at load and re-read by ReloadSecrets().
//
//   Schema schema;
//   schema.Add({.key = "http.port", .kind = Kind::kInt, .default_value = "8080", .min = 1});
//   auto config = Config::Load(schema, "trellis.yaml", Environment::FromProcess());
//   if (!config) { std::cerr << config.error().message; }
//   int port = config->Int("http.port");
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "platform/core/error.hpp"

namespace trellis::platform::core::config {

enum class Kind { kString, kInt, kBool, kEnum, kStringList, kSecret };

struct KeySpec {
  std::string key;
  Kind kind = Kind::kString;
  std::string default_value;  // as text: "8080", "true", "a,b"
  std::string doc;
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::string> allowed;  // for kEnum
};

class Schema {
 public:
  // Adds a key; throws std::invalid_argument on a duplicate or an invalid default (start-up).
  Schema& Add(KeySpec spec);
  [[nodiscard]] const KeySpec* Find(std::string_view key) const;
  [[nodiscard]] const std::vector<KeySpec>& Keys() const { return keys_; }
  // The configuration reference as a Markdown table, one row per key.
  [[nodiscard]] std::string MarkdownReference() const;

 private:
  std::vector<KeySpec> keys_;
};

// "http.port" -> "TRELLIS_HTTP_PORT".
[[nodiscard]] std::string EnvName(std::string_view key);
// The variable that names the configuration file instead of --config.
inline constexpr std::string_view kConfigFileEnv = "TRELLIS_CONFIG";

// The process environment as NAME -> VALUE, injected so tests need not touch the real one.
class Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  static Environment FromProcess();
  [[nodiscard]] const std::map<std::string, std::string>& Vars() const { return vars_; }
  [[nodiscard]] std::optional<std::string> Get(std::string_view name) const;

 private:
  std::map<std::string, std::string> vars_;
};

// A secret value, possibly backed by a file that is re-read on Reload(). Thread-safe.
class Secret {
 public:
  Secret(std::string value, std::optional<std::string> file)
      : value_(std::move(value)), file_(std::move(file)) {}
  [[nodiscard]] std::string Value() const;
  [[nodiscard]] const std::optional<std::string>& File() const { return file_; }
  // Re-reads the file, if any. On failure the old value stays and the error says why.
  [[nodiscard]] Result<bool> Reload();

 private:
  mutable std::mutex mu_;
  std::string value_;  // guarded by mu_
  std::optional<std::string> file_;
};

using Value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>>;

class Config {
 public:
  // Loads and validates. On failure the error message names every bad key, its value's
  // source and what is allowed, one per line.
  [[nodiscard]] static Result<Config> Load(const Schema& schema,
                                           const std::optional<std::string>& yaml_path,
                                           const Environment& env);

  [[nodiscard]] std::int64_t Int(std::string_view key) const;
  [[nodiscard]] bool Bool(std::string_view key) const;
  [[nodiscard]] const std::string& String(std::string_view key) const;  // kString and kEnum
  [[nodiscard]] const std::vector<std::string>& List(std::string_view key) const;
  [[nodiscard]] std::shared_ptr<Secret> SecretOf(std::string_view key) const;
  // Where a key's value came from: "default", "file trellis.yaml:3", "env TRELLIS_HTTP_PORT".
  [[nodiscard]] const std::string& SourceOf(std::string_view key) const;

  // Re-reads every file-backed secret; returns the keys that changed, or errors for those
  // whose file could not be read (their old value stays).
  [[nodiscard]] Result<std::vector<std::string>> ReloadSecrets();

  // The effective configuration, one "key: value  # source" line per key, secrets redacted.
  [[nodiscard]] std::string Describe() const;

 private:
  struct Entry {
    KeySpec spec;
    Value value;
    std::shared_ptr<Secret> secret;
    std::string source;
  };
  const Entry& At(std::string_view key) const;

  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace trellis::platform::core::config
