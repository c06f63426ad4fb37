#include "platform/http/json_body.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "platform/core/log.hpp"

namespace trellis::platform::http {

struct JsonObject::Impl {
  boost::json::object object;
};

JsonObject::JsonObject(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonObject::JsonObject(JsonObject&&) noexcept = default;
JsonObject& JsonObject::operator=(JsonObject&&) noexcept = default;
JsonObject::~JsonObject() = default;
std::size_t JsonObject::size() const { return impl_->object.size(); }

namespace {

namespace json = boost::json;
using core::ErrorCode;

// Builds the value like Boost.JSON's own parser handler, and also refuses a key repeated in
// one object, which Boost.JSON would otherwise resolve silently to the last occurrence.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  StrictHandler() { stack_.reset(); }

  bool on_document_begin(json::error_code& /*ec*/) { return true; }
  bool on_document_end(json::error_code& /*ec*/) { return true; }
  bool on_object_begin(json::error_code& /*ec*/) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code& /*ec*/) {
    keys_.pop_back();
    stack_.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code& /*ec*/) { return true; }
  bool on_array_end(std::size_t n, json::error_code& /*ec*/) {
    stack_.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    key_.append(s.data(), s.size());
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t /*n*/, json::error_code& ec) {
    key_.append(s.data(), s.size());
    const bool fresh = keys_.back().insert(std::move(key_)).second;
    key_.clear();
    if (!fresh) {
      duplicate_key_ = true;
      ec = json::error::syntax;  // any error stops the parser; duplicate_key_ says which
      return false;
    }
    stack_.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t /*n*/, json::error_code& /*ec*/) {
    stack_.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_int64(std::int64_t i, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view /*s*/, json::error_code& /*ec*/) {
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code& /*ec*/) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code& /*ec*/) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }
  bool on_comment(json::string_view /*s*/, json::error_code& /*ec*/) { return true; }

  [[nodiscard]] bool duplicate_key() const { return duplicate_key_; }
  [[nodiscard]] json::value Release() { return stack_.release(); }

 private:
  json::value_stack stack_;
  std::vector<std::unordered_set<std::string>> keys_;  // keys seen, one set per open object
  std::string key_;                                    // the key being assembled from parts
  bool duplicate_key_ = false;
};

core::Result<json::value> ParseStrict(std::string_view text, JsonLimits limits) {
  json::parse_options options;
  options.max_depth = limits.max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  json::basic_parser<StrictHandler> parser(options);
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used != text.size()) ec = json::error::extra_data;
  if (ec) {
    std::string why;
    if (parser.handler().duplicate_key()) {
      why = "an object has a duplicate key";
    } else if (ec == json::error::too_deep) {
      why = "nested deeper than " + std::to_string(limits.max_depth) + " levels";
    } else {
      why = ec.message();  // Boost.JSON's fixed texts; they never quote the input
    }
    return core::Fail(
        ErrorCode::kInvalidArgument,
        "the request body is not valid JSON: " + why + " (at byte " + std::to_string(used) + ")",
        ec.message());
  }
  return parser.handler().Release();
}

std::size_t CodePoints(std::string_view s) {
  // Valid UTF-8 by now (the parser refuses anything else): count the non-continuation bytes.
  return static_cast<std::size_t>(std::ranges::count_if(
      s, [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

std::string CharactersDetail(std::string_view bound, std::size_t n) {
  return "must be " + std::string(bound) + " " + std::to_string(n) +
         (n == 1 ? " character" : " characters");
}

// The detail for a string that breaks `rules`, or "" when it keeps them.
template <typename Rules>
std::string CheckString(std::string_view s, const Rules& rules) {
  const std::size_t n = CodePoints(s);
  if (n < rules.min_len) return CharactersDetail("at least", rules.min_len);
  if (n > rules.max_len) return CharactersDetail("at most", rules.max_len);
  if (rules.check != nullptr) return std::string(rules.check(s));
  return {};
}

// The integer in `v`, or the detail saying why it is not one within `rules`.
std::expected<std::int64_t, std::string> CheckInt(const json::value& v, const IntRules& rules) {
  const std::string too_big = "must be at most " + std::to_string(rules.max);
  const std::string too_small = "must be at least " + std::to_string(rules.min);
  std::int64_t i = 0;
  if (v.is_int64()) {
    i = v.get_int64();
  } else if (v.is_uint64()) {
    return std::unexpected(too_big);  // only numbers above int64's range parse as uint64
  } else if (v.is_double()) {
    const double d = v.get_double();
    if (std::trunc(d) != d) return std::unexpected(std::string("must be an integer"));
    // 2^63 is exact in a double; anything at or beyond it does not fit an int64.
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (d >= kTwoTo63) return std::unexpected(too_big);
    if (d < -kTwoTo63) return std::unexpected(too_small);
    i = static_cast<std::int64_t>(d);
  } else {
    return std::unexpected(std::string("must be an integer"));
  }
  if (i < rules.min) return std::unexpected(too_small);
  if (i > rules.max) return std::unexpected(too_big);
  return i;
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  constexpr std::string_view kSpace = " \t";
  const auto first = media.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return false;
  media = media.substr(first, media.find_last_not_of(kSpace) - first + 1);
  return EqualsIgnoreCase(media, "application/json");
}

std::string JsonPointerTo(std::string_view token) {
  std::string out = "/";
  out.reserve(token.size() + 1);
  for (const char c : token) {
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

core::Result<JsonObject> ParseJsonObject(std::string_view text, JsonLimits limits) {
  auto value = ParseStrict(text, limits);
  if (!value) return std::unexpected(std::move(value.error()));
  if (!value->is_object()) {
    core::Error e(ErrorCode::kValidation, "the request body must be a JSON object");
    e.fields.push_back({.pointer = "", .detail = "must be a JSON object"});
    return std::unexpected(std::move(e));
  }
  auto impl = std::make_unique<JsonObject::Impl>();
  impl->object = std::move(value->get_object());
  return JsonObject(std::move(impl));
}

core::Result<JsonObject> ParseJsonBody(const Request& req, JsonLimits limits) {
  const auto content_type = req.FindHeader("content-type");
  if (!content_type || !IsJsonContentType(*content_type)) {
    return core::Fail(ErrorCode::kUnsupportedMedia, "the request body must be application/json");
  }
  return ParseJsonObject(req.body, limits);
}

namespace internal {
void UnfinishedRead() {
  std::fputs("JsonField read before JsonReader::Finish() succeeded\n", stderr);
  std::abort();
}
}  // namespace internal

JsonReader::JsonReader(const JsonObject& object)
    : object_(*object.impl_), gate_(std::make_shared<internal::ReadGate>()) {}

namespace {

// The member `name` of `object`, or nullptr; records the name as read either way.
const json::value* Member(const json::object& object, std::string_view name,
                          std::vector<std::string>& read) {
  read.emplace_back(name);
  const auto it = object.find(json::string_view(name.data(), name.size()));
  return it == object.end() ? nullptr : &it->value();
}

}  // namespace

JsonField<std::string> JsonReader::String(std::string_view name, StringRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  std::optional<std::string> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
  } else if (v->is_null()) {
    Reject(name, "must not be null");
  } else if (!v->is_string()) {
    Reject(name, "must be a string");
  } else {
    const std::string_view s(v->get_string().data(), v->get_string().size());
    if (auto detail = CheckString(s, rules); !detail.empty()) {
      Reject(name, std::move(detail));
    } else {
      out.emplace(s);
    }
  }
  return {std::move(out), gate_};
}

JsonField<std::int64_t> JsonReader::Int(std::string_view name, IntRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  std::optional<std::int64_t> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
  } else if (v->is_null()) {
    Reject(name, "must not be null");
  } else if (auto i = CheckInt(*v, rules); !i) {
    Reject(name, std::move(i.error()));
  } else {
    out = *i;
  }
  return {out, gate_};
}

JsonField<bool> JsonReader::Bool(std::string_view name, BoolRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  std::optional<bool> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
  } else if (v->is_null()) {
    Reject(name, "must not be null");
  } else if (!v->is_bool()) {
    Reject(name, "must be a boolean");
  } else {
    out = v->get_bool();
  }
  return {out, gate_};
}

JsonField<std::vector<std::string>> JsonReader::StringArray(std::string_view name,
                                                            StringArrayRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  std::optional<std::vector<std::string>> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
    return {std::move(out), gate_};
  }
  if (v->is_null()) {
    Reject(name, "must not be null");
    return {std::move(out), gate_};
  }
  if (!v->is_array()) {
    Reject(name, "must be an array of strings");
    return {std::move(out), gate_};
  }
  const json::array& items = v->get_array();
  if (items.size() > rules.max_items) {
    // The items are not looked at: their errors would be unbounded.
    Reject(name, "must have at most " + std::to_string(rules.max_items) + " items");
    return {std::move(out), gate_};
  }
  if (items.size() < rules.min_items) {
    Reject(name, "must have at least " + std::to_string(rules.min_items) + " items");
  }
  const std::string pointer = JsonPointerTo(name);
  const std::size_t errors_before = errors_.size();
  std::vector<std::string> values;
  values.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string item_pointer = pointer + "/" + std::to_string(i);
    if (!items[i].is_string()) {
      errors_.push_back({.pointer = item_pointer, .detail = "must be a string"});
      continue;
    }
    const std::string_view s(items[i].get_string().data(), items[i].get_string().size());
    if (auto detail = CheckString(s, rules); !detail.empty()) {
      errors_.push_back({.pointer = item_pointer, .detail = std::move(detail)});
      continue;
    }
    values.emplace_back(s);
  }
  if (errors_.size() == errors_before) out = std::move(values);
  return {std::move(out), gate_};
}

JsonField<Patch<std::string>> JsonReader::NullableString(std::string_view name, StringRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  Patch<std::string> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
  } else if (v->is_null()) {
    out = Patch<std::string>::Null();
  } else if (!v->is_string()) {
    Reject(name, "must be a string or null");
  } else {
    const std::string_view s(v->get_string().data(), v->get_string().size());
    if (auto detail = CheckString(s, rules); !detail.empty()) {
      Reject(name, std::move(detail));
    } else {
      out = Patch<std::string>::Of(std::string(s));
    }
  }
  return {std::move(out), gate_};
}

JsonField<Patch<std::int64_t>> JsonReader::NullableInt(std::string_view name, IntRules rules) {
  const json::value* v = Member(object_.object, name, read_);
  Patch<std::int64_t> out;
  if (v == nullptr) {
    if (rules.required) Reject(name, "is required");
  } else if (v->is_null()) {
    out = Patch<std::int64_t>::Null();
  } else if (auto i = CheckInt(*v, rules); !i) {
    Reject(name, std::move(i.error()));
  } else {
    out = Patch<std::int64_t>::Of(*i);
  }
  return {out, gate_};
}

void JsonReader::Reject(std::string_view name, std::string detail) {
  errors_.push_back({.pointer = JsonPointerTo(name), .detail = std::move(detail)});
}

core::Result<void> JsonReader::Finish() {
  if (!finished_) {
    finished_ = true;
    for (const auto& member : object_.object) {
      const std::string_view key(member.key().data(), member.key().size());
      if (std::ranges::find(read_, key) == read_.end()) Reject(key, "unknown field");
    }
  }
  if (!errors_.empty()) {
    gate_->finished_ok = false;
    core::Error e(ErrorCode::kValidation, "the request body has invalid fields");
    const std::size_t n = std::min(errors_.size(), kMaxFieldErrors);
    e.fields.assign(errors_.begin(), errors_.begin() + static_cast<std::ptrdiff_t>(n));
    return std::unexpected(std::move(e));
  }
  gate_->finished_ok = true;
  return {};
}

namespace {

// The length of the valid UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((byte(i) & 0xC0U) != 0x80U) return 0;
  }
  return n;
}

}  // namespace

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_members_.empty()) {
    if (has_members_.back()) out_ += ',';
    has_members_.back() = true;
  }
}

void JsonWriter::AppendString(std::string_view s) {
  // One pass over the bytes: runs that need no escaping (printable ASCII, valid UTF-8) are
  // copied whole; a list page writes tens of kilobytes of strings, so per-byte appends and a
  // second, validated copy of every string showed in profiles.
  static constexpr char kHex[] = "0123456789abcdef";
  out_.reserve(out_.size() + s.size() + 2);
  out_.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = Utf8SequenceLength(s.substr(i));
      if (n != 0) {
        i += n;
        continue;
      }
    }
    out_.append(s.substr(run, i - run));
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (c < 0x20) {
          out_ += "\\u00";
          out_.push_back(kHex[c >> 4]);
          out_.push_back(kHex[c & 0xF]);
        } else {
          out_ += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER for an invalid byte
        }
    }
    ++i;
    run = i;
  }
  out_.append(s.substr(run));
  out_.push_back('"');
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_ += '{';
  has_members_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  out_ += '}';
  has_members_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_ += '[';
  has_members_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  out_ += ']';
  has_members_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view name) {
  BeforeValue();
  AppendString(name);
  out_ += ':';
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendString(value);
  return *this;
}

JsonWriter& JsonWriter::Int(std::int64_t value) {
  BeforeValue();
  char digits[24];  // no temporary string: a list page writes a few per item
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out_.append(digits, end);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  BeforeValue();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

}  // namespace trellis::platform::http
