#include "tests/support/json_schema.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <regex>

#include "platform/core/ids.hpp"

namespace trellis::tests::support {
namespace {

namespace json = boost::json;
using platform::core::ErrorCode;
using platform::core::FieldError;

// A $ref cycle without progress (a: {$ref: b}, b: {$ref: a}) must end.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxErrors = 50;

std::string Child(const std::string& pointer, std::string_view token) {
  std::string out = pointer + "/";
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

bool IsIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::trunc(v.get_double()) == v.get_double();
}

bool HasType(const json::value& v, std::string_view type) {
  if (type == "integer") return IsIntegral(v);
  return TypeName(v) == type;
}

double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// JSON equality, numbers compared by value (1 == 1.0).
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return AsDouble(a) == AsDouble(b);
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!JsonEqual(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& [k, v] : x) {
      const auto* other = y.if_contains(k);
      if (!other || !JsonEqual(v, *other)) return false;
    }
    return true;
  }
  return a == b;
}

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool Digits(std::string_view s, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::optional<std::size_t> NumberOr(const json::object& schema, std::string_view key) {
  const auto* v = schema.if_contains(key);
  if (!v || !IsIntegral(*v) || AsDouble(*v) < 0) return std::nullopt;
  return static_cast<std::size_t>(AsDouble(*v));
}

}  // namespace

bool IsRfc3339DateTime(std::string_view s) {
  // full-date "T" partial-time time-offset (RFC 3339 section 5.6)
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  int oh = 0, om = 0;
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && Digits(s, i + 1, 2, oh) &&
         s[i + 3] == ':' && Digits(s, i + 4, 2, om) && oh <= 23 && om <= 59;
}

const json::value* JsonSchemaValidator::Resolve(std::string_view ref) const {
  if (ref.empty() || ref.front() != '#') return nullptr;
  ref.remove_prefix(1);
  const json::value* at = &root_;
  while (!ref.empty()) {
    if (ref.front() != '/') return nullptr;
    ref.remove_prefix(1);
    const auto slash = ref.find('/');
    const std::string_view raw = ref.substr(0, slash);
    ref = slash == std::string_view::npos ? std::string_view() : ref.substr(slash);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    if (const auto* obj = at->if_object()) {
      at = obj->if_contains(token);
    } else if (const auto* arr = at->if_array()) {
      std::size_t index = 0;
      if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos) {
        return nullptr;
      }
      index = std::stoul(token);
      at = index < arr->size() ? &(*arr)[index] : nullptr;
    } else {
      return nullptr;
    }
    if (!at) return nullptr;
  }
  return at;
}

platform::core::Result<void> JsonSchemaValidator::Validate(const json::value& schema,
                                                           const json::value& instance) const {
  std::vector<FieldError> errors;
  Check(schema, instance, "", errors, 0);
  if (errors.empty()) return {};
  std::string message = "response does not match its schema:";
  for (const auto& e : errors) message += "\n  at \"" + e.pointer + "\": " + e.detail;
  platform::core::Error error(ErrorCode::kValidation, std::move(message));
  error.fields = std::move(errors);
  return std::unexpected(std::move(error));
}

void JsonSchemaValidator::Check(const json::value& schema, const json::value& instance,
                                const std::string& pointer, std::vector<FieldError>& errors,
                                int depth) const {
  const auto fail = [&](std::string detail) {
    if (errors.size() < kMaxErrors) errors.push_back(FieldError{pointer, std::move(detail)});
  };
  if (depth > kMaxDepth) return fail("schema nests too deeply (a $ref cycle?)");
  if (schema.is_bool()) {
    if (!schema.get_bool()) fail("no value is allowed here");
    return;
  }
  const auto* s = schema.if_object();
  if (!s) return fail("the schema is not an object");

  if (const auto* ref = s->if_contains("$ref")) {
    const json::value* target = ref->is_string() ? Resolve(ref->get_string()) : nullptr;
    if (!target) return fail("unresolvable $ref");
    Check(*target, instance, pointer, errors, depth + 1);
  }

  if (const auto* type = s->if_contains("type")) {
    bool ok = false;
    std::string wanted;
    if (type->is_string()) {
      ok = HasType(instance, type->get_string());
      wanted = type->get_string();
    } else if (type->is_array()) {
      for (const auto& t : type->get_array()) {
        if (!t.is_string()) continue;
        ok = ok || HasType(instance, t.get_string());
        wanted += (wanted.empty() ? "" : " or ") + std::string(t.get_string());
      }
    }
    if (!ok) {
      return fail("expected " + wanted + ", got " + std::string(TypeName(instance)));
    }
  }

  if (const auto* values = s->if_contains("enum"); values && values->is_array()) {
    bool found = false;
    for (const auto& v : values->get_array()) found = found || JsonEqual(v, instance);
    if (!found) fail("not one of the enum values " + json::serialize(*values));
  }
  if (const auto* c = s->if_contains("const"); c && !JsonEqual(*c, instance)) {
    fail("must equal " + json::serialize(*c));
  }

  if (const auto* str = instance.if_string()) {
    const std::size_t len = CodePoints(*str);
    if (auto min = NumberOr(*s, "minLength"); min && len < *min) {
      fail("shorter than " + std::to_string(*min) + " characters");
    }
    if (auto max = NumberOr(*s, "maxLength"); max && len > *max) {
      fail("longer than " + std::to_string(*max) + " characters");
    }
    if (const auto* pattern = s->if_contains("pattern"); pattern && pattern->is_string()) {
      try {
        const std::regex re(std::string(pattern->get_string()), std::regex::ECMAScript);
        if (!std::regex_search(str->begin(), str->end(), re)) {
          fail("does not match the pattern " + std::string(pattern->get_string()));
        }
      } catch (const std::regex_error&) {
        fail("the schema's pattern is not a valid ECMAScript regex");
      }
    }
    if (const auto* format = s->if_contains("format"); format && format->is_string()) {
      if (format->get_string() == "uuid" && !platform::core::IsUuid(*str)) {
        fail("not a uuid");
      } else if (format->get_string() == "date-time" && !IsRfc3339DateTime(*str)) {
        fail("not an RFC 3339 date-time");
      }
    }
  }

  if (instance.is_number()) {
    const double x = AsDouble(instance);
    const auto bound = [&](std::string_view key, auto violates, std::string_view words) {
      if (const auto* b = s->if_contains(key); b && b->is_number() && violates(x, AsDouble(*b))) {
        fail(std::string(words) + " " + json::serialize(*b));
      }
    };
    bound(
        "minimum", [](double v, double b) { return v < b; }, "less than");
    bound(
        "maximum", [](double v, double b) { return v > b; }, "greater than");
    bound(
        "exclusiveMinimum", [](double v, double b) { return v <= b; }, "not greater than");
    bound(
        "exclusiveMaximum", [](double v, double b) { return v >= b; }, "not less than");
  }

  if (const auto* arr = instance.if_array()) {
    if (auto min = NumberOr(*s, "minItems"); min && arr->size() < *min) {
      fail("fewer than " + std::to_string(*min) + " items");
    }
    if (auto max = NumberOr(*s, "maxItems"); max && arr->size() > *max) {
      fail("more than " + std::to_string(*max) + " items");
    }
    if (const auto* items = s->if_contains("items")) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        Check(*items, (*arr)[i], Child(pointer, std::to_string(i)), errors, depth + 1);
      }
    }
  }

  if (const auto* obj = instance.if_object()) {
    const auto* props = s->if_contains("properties");
    const json::object* properties = props ? props->if_object() : nullptr;
    if (const auto* required = s->if_contains("required"); required && required->is_array()) {
      for (const auto& name : required->get_array()) {
        if (name.is_string() && !obj->contains(name.get_string())) {
          fail("missing required property \"" + std::string(name.get_string()) + "\"");
        }
      }
    }
    const auto* additional = s->if_contains("additionalProperties");
    for (const auto& [key, value] : *obj) {
      const std::string at = Child(pointer, key);
      if (properties) {
        if (const auto* sub = properties->if_contains(key)) {
          Check(*sub, value, at, errors, depth + 1);
          continue;
        }
      }
      if (!additional) continue;
      if (additional->is_bool() && !additional->get_bool()) {
        if (errors.size() < kMaxErrors) errors.push_back(FieldError{at, "unexpected property"});
      } else {
        Check(*additional, value, at, errors, depth + 1);
      }
    }
  }

  if (const auto* all = s->if_contains("allOf"); all && all->is_array()) {
    for (const auto& sub : all->get_array()) Check(sub, instance, pointer, errors, depth + 1);
  }
  const auto matches = [&](const json::value& sub) {
    std::vector<FieldError> scratch;
    Check(sub, instance, pointer, scratch, depth + 1);
    return scratch.empty();
  };
  if (const auto* any = s->if_contains("anyOf"); any && any->is_array()) {
    bool ok = false;
    for (const auto& sub : any->get_array()) ok = ok || matches(sub);
    if (!ok) fail("matches none of the anyOf schemas");
  }
  if (const auto* one = s->if_contains("oneOf"); one && one->is_array()) {
    std::size_t n = 0;
    for (const auto& sub : one->get_array()) n += matches(sub) ? 1 : 0;
    if (n != 1) fail("matches " + std::to_string(n) + " of the oneOf schemas, not exactly one");
  }
}

}  // namespace trellis::tests::support
