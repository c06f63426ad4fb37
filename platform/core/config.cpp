#include "platform/core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;  // NOLINT: POSIX global, read once at start-up

namespace trellis::platform::core::config {

namespace {

constexpr std::string_view kSecretFileSuffix = "_file";
constexpr std::string_view kEnvPrefix = "TRELLIS_";

std::string KindName(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::kString: return "string";
    case Kind::kInt: return "integer";
    case Kind::kBool: return "boolean";
    case Kind::kEnum: return "enum";
    case Kind::kStringList: return "list of strings";
    case Kind::kSecret: return "secret";
  }
  return "string";
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string Allowed(const KeySpec& spec) {
  switch (spec.kind) {
    case Kind::kInt: {
      std::string out = "an integer";
      const bool has_min = spec.min != std::numeric_limits<std::int64_t>::min();
      const bool has_max = spec.max != std::numeric_limits<std::int64_t>::max();
      if (has_min && has_max) {
        out += " from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
      } else if (has_min) {
        out += " >= " + std::to_string(spec.min);
      } else if (has_max) {
        out += " <= " + std::to_string(spec.max);
      }
      return out;
    }
    case Kind::kBool: return "true or false";
    case Kind::kEnum: return "one of: " + Join(spec.allowed, ", ");
    case Kind::kStringList: return "a list of strings (comma-separated in a variable)";
    case Kind::kString:
    case Kind::kSecret: return "a string";
  }
  return "a string";
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

// Parses a scalar's text as the key's kind. nullopt: not allowed.
std::optional<Value> ParseText(const KeySpec& spec, std::string_view text) {
  switch (spec.kind) {
    case Kind::kInt: {
      std::int64_t v = 0;
      const auto* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, v);
      if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
      if (v < spec.min || v > spec.max) return std::nullopt;
      return Value(v);
    }
    case Kind::kBool:
      if (text == "true" || text == "1") return Value(true);
      if (text == "false" || text == "0") return Value(false);
      return std::nullopt;
    case Kind::kEnum:
      if (std::find(spec.allowed.begin(), spec.allowed.end(), text) == spec.allowed.end())
        return std::nullopt;
      return Value(std::string(text));
    case Kind::kStringList: return Value(SplitList(text));
    case Kind::kString:
    case Kind::kSecret: return Value(std::string(text));
  }
  return std::nullopt;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kInvalidArgument, "cannot read secret file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string value = ss.str();
  // Files written by editors and secret operators often end with one newline.
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

std::string DescribeValue(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return Quote(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          std::vector<std::string> quoted;
          for (const auto& s : x) quoted.push_back(Quote(s));
          return "[" + Join(quoted, ", ") + "]";
        }
      },
      v);
}

// Walks a YAML mapping into dotted keys. Sequences are leaves (lists); so are scalars.
void Flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, YAML::Node>>& out, std::vector<std::string>& errors,
             const std::string& file) {
  for (const auto& kv : node) {
    const std::string name = kv.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (kv.second.IsMap()) {
      Flatten(kv.second, key, out, errors, file);
    } else if (kv.second.IsScalar() || kv.second.IsSequence() || kv.second.IsNull()) {
      out.emplace_back(key, kv.second);
    } else {
      errors.push_back(key + ": unsupported YAML value in file " + file);
    }
  }
}

}  // namespace

std::string EnvName(std::string_view key) {
  std::string out(kEnvPrefix);
  for (char c : key) {
    out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

Schema& Schema::Add(KeySpec spec) {
  if (Find(spec.key)) throw std::invalid_argument("duplicate config key " + spec.key);
  if (spec.kind != Kind::kSecret && !ParseText(spec, spec.default_value))
    throw std::invalid_argument("invalid default for config key " + spec.key);
  keys_.push_back(std::move(spec));
  return *this;
}

const KeySpec* Schema::Find(std::string_view key) const {
  for (const auto& k : keys_) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::string Schema::MarkdownReference() const {
  std::string out =
      "| key | environment variable | type | default | allowed | description |\n"
      "|---|---|---|---|---|---|\n";
  for (const auto& k : keys_) {
    std::string def = k.kind == Kind::kSecret ? "(unset)" : k.default_value;
    if (def.empty()) def = "(empty)";
    std::string env = "`" + EnvName(k.key) + "`";
    if (k.kind == Kind::kSecret) env += "<br>`" + EnvName(k.key) + "_FILE`";
    out += "| `" + k.key + "` | " + env + " | " + KindName(k) + " | `" + def + "` | " + Allowed(k) +
           " | " + k.doc + " |\n";
  }
  return out;
}

Environment Environment::FromProcess() {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return Environment(std::move(vars));
}

std::optional<std::string> Environment::Get(std::string_view name) const {
  auto it = vars_.find(std::string(name));
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

std::string Secret::Value() const {
  std::lock_guard lock(mu_);
  return value_;
}

Result<bool> Secret::Reload() {
  if (!file_) return false;
  auto value = ReadSecretFile(*file_);
  if (!value) return std::unexpected(value.error());
  std::lock_guard lock(mu_);
  const bool changed = *value != value_;
  value_ = std::move(*value);
  return changed;
}

Result<Config> Config::Load(const Schema& schema, const std::optional<std::string>& yaml_path,
                            const Environment& env) {
  Config config;
  std::vector<std::string> errors;
  // Secret key -> file that holds it (from YAML or environment).
  std::map<std::string, std::pair<std::string, std::string>> secret_files;

  for (const auto& spec : schema.Keys()) {
    Entry e;
    e.spec = spec;
    e.source = "default";
    e.value =
        spec.kind == Kind::kSecret ? Value(std::string()) : *ParseText(spec, spec.default_value);
    config.entries_.emplace(spec.key, std::move(e));
  }

  auto apply = [&](const std::string& key, std::string_view text, const std::string& source) {
    auto it = config.entries_.find(key);
    auto value = ParseText(it->second.spec, text);
    if (!value) {
      errors.push_back(key + ": value " + Quote(text) + " from " + source + " is not allowed; " +
                       "allowed: " + Allowed(it->second.spec));
      return;
    }
    it->second.value = std::move(*value);
    it->second.source = source;
  };

  // Resolves "<secret>_file" to its secret key, or "" when it is no such key.
  auto secret_for_file_key = [&](const std::string& key) -> std::string {
    if (!key.ends_with(kSecretFileSuffix)) return {};
    std::string base = key.substr(0, key.size() - kSecretFileSuffix.size());
    const KeySpec* spec = schema.Find(base);
    return spec && spec->kind == Kind::kSecret ? base : std::string();
  };

  if (yaml_path) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(*yaml_path);
    } catch (const YAML::BadFile&) {
      return Fail(ErrorCode::kInvalidArgument, "config: cannot read file " + *yaml_path);
    } catch (const YAML::Exception& ex) {
      return Fail(ErrorCode::kInvalidArgument, "config: " + *yaml_path + ": invalid YAML at line " +
                                                   std::to_string(ex.mark.line + 1) + ": " +
                                                   ex.msg);
    }
    if (!root.IsNull() && !root.IsMap()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "config: " + *yaml_path + ": top level must be a mapping");
    }
    std::vector<std::pair<std::string, YAML::Node>> leaves;
    if (root.IsMap()) Flatten(root, "", leaves, errors, *yaml_path);
    for (const auto& [key, node] : leaves) {
      const std::string source = "file " + *yaml_path + ":" + std::to_string(node.Mark().line + 1);
      if (auto secret = secret_for_file_key(key); !secret.empty()) {
        if (!node.IsScalar()) {
          errors.push_back(key + ": from " + source + " must be a file path");
          continue;
        }
        secret_files[secret] = {node.as<std::string>(), source};
        continue;
      }
      auto it = config.entries_.find(key);
      if (it == config.entries_.end()) {
        errors.push_back(key + ": unknown key in " + source);
        continue;
      }
      if (node.IsSequence()) {
        if (it->second.spec.kind != Kind::kStringList) {
          errors.push_back(key + ": value from " + source +
                           " is a list; allowed: " + Allowed(it->second.spec));
          continue;
        }
        std::vector<std::string> items;
        for (const auto& item : node) items.push_back(item.as<std::string>());
        it->second.value = std::move(items);
        it->second.source = source;
      } else if (node.IsNull()) {
        apply(key, "", source);
      } else {
        apply(key, node.as<std::string>(), source);
      }
    }
  }

  // Environment: every TRELLIS_* variable must name a key (or a secret's file).
  std::map<std::string, std::string> env_to_key;
  for (const auto& spec : schema.Keys()) {
    env_to_key[EnvName(spec.key)] = spec.key;
    if (spec.kind == Kind::kSecret) env_to_key[EnvName(spec.key) + "_FILE"] = spec.key + "_file";
  }
  for (const auto& [name, value] : env.Vars()) {
    if (!name.starts_with(kEnvPrefix) || name == kConfigFileEnv) continue;
    auto it = env_to_key.find(name);
    if (it == env_to_key.end()) {
      errors.push_back(name + ": unknown configuration variable (no key maps to it)");
      continue;
    }
    if (auto secret = secret_for_file_key(it->second); !secret.empty()) {
      secret_files[secret] = {value, "env " + name};
    } else {
      apply(it->second, value, "env " + name);
    }
  }

  for (const auto& [key, file_and_source] : secret_files) {
    const auto& [path, source] = file_and_source;
    auto value = ReadSecretFile(path);
    if (!value) {
      errors.push_back(key + "_file: " + Quote(path) + " from " + source +
                       " cannot be read; allowed: a readable file");
      continue;
    }
    auto& entry = config.entries_.at(key);
    entry.value = *value;
    entry.source = source + " (file " + path + ")";
    entry.secret = std::make_shared<Secret>(std::move(*value), path);
  }
  for (auto& [key, entry] : config.entries_) {
    if (entry.spec.kind == Kind::kSecret && !entry.secret) {
      entry.secret = std::make_shared<Secret>(std::get<std::string>(entry.value), std::nullopt);
    }
  }

  if (!errors.empty()) {
    std::string message = "invalid configuration:";
    for (const auto& e : errors) message += "\n  " + e;
    return Fail(ErrorCode::kInvalidArgument, message);
  }
  return config;
}

const Config::Entry& Config::At(std::string_view key) const {
  auto it = entries_.find(key);
  // A key missing from the schema is a programming error in the composition root.
  if (it == entries_.end()) throw std::logic_error("config key not in schema: " + std::string(key));
  return it->second;
}

std::int64_t Config::Int(std::string_view key) const {
  return std::get<std::int64_t>(At(key).value);
}
bool Config::Bool(std::string_view key) const { return std::get<bool>(At(key).value); }
const std::string& Config::String(std::string_view key) const {
  return std::get<std::string>(At(key).value);
}
const std::vector<std::string>& Config::List(std::string_view key) const {
  return std::get<std::vector<std::string>>(At(key).value);
}
std::shared_ptr<Secret> Config::SecretOf(std::string_view key) const { return At(key).secret; }
const std::string& Config::SourceOf(std::string_view key) const { return At(key).source; }

Result<std::vector<std::string>> Config::ReloadSecrets() {
  std::vector<std::string> changed;
  std::vector<std::string> errors;
  for (auto& [key, entry] : entries_) {
    if (!entry.secret) continue;
    auto r = entry.secret->Reload();
    if (!r) {
      errors.push_back(key + ": " + r.error().message);
    } else if (*r) {
      changed.push_back(key);
    }
  }
  if (!errors.empty()) return Fail(ErrorCode::kUnavailable, Join(errors, "; "));
  return changed;
}

std::string Config::Describe() const {
  std::string out;
  for (const auto& [key, entry] : entries_) {
    std::string value;
    if (entry.spec.kind == Kind::kSecret) {
      value = entry.secret && !entry.secret->Value().empty() ? "<redacted>" : "\"\"";
    } else {
      value = DescribeValue(entry.value);
    }
    out += key + ": " + value + "  # " + entry.source + "\n";
  }
  return out;
}

}  // namespace trellis::platform::core::config
