// Strict JSON request bodies for the public API: parse once, read fields declaratively, and
// refuse the whole body (never half-apply it) when anything is wrong.
//
//   auto body = ParseJsonBody(req);                       // 415 / 400 / 422 (not an object)
//   if (!body) return std::unexpected(body.error());
//   JsonReader r(*body);
//   auto title = r.String("title", {.required = true, .min_len = 1, .max_len = 200});
//   auto priority = r.Int("priority", {.min = 0, .max = 4});
//   if (auto ok = r.Finish(); !ok) return std::unexpected(ok.error());  // 422, one entry a field
//   Create(*title, priority.value_or(2));
//
// Rules enforced:
//   - Content-Type must be application/json (parameters such as charset ignored, any case): 415.
//   - Malformed JSON, trailing data, invalid UTF-8 (raw bytes or escaped lone surrogates, which
//     Boost.JSON 1.81 refuses), nesting deeper than JsonLimits::max_depth and duplicate keys
//     (a proxy or another parser may keep the first one where Boost.JSON keeps the last) are 400.
//     Messages name the byte offset and the kind of fault, never the body's text.
//   - A top-level value other than an object is 422 with the pointer "".
//   - The reader collects every invalid field (wrong type, null where not nullable, out of range,
//     too long, missing when required, unknown) as one core::FieldError each, addressed by an
//     RFC 6901 pointer, and Finish() turns them into one kValidation error.
//   - String lengths count Unicode code points, not bytes.
//   - Integers: numbers with a fraction (1.5) are refused; integral numbers beyond int64 or the
//     field's bounds are out of range. A JSON null is not an absent field: it is refused unless
//     the field is read with a Nullable* method, which yields a Patch<T>.
//
// Values are handed out as JsonField<T>, whose accessors abort the process when Finish() has
// not been called or has failed: a handler cannot use a value from a body it should have
// refused. Boost.JSON stays behind JsonObject's opaque handle so this header is cheap to include.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"

namespace trellis::platform::http {

// At most this many field errors are reported (the first ones, in reading order, then unknown
// fields in body order), so a body of many unknown keys cannot amplify into a huge response.
inline constexpr std::size_t kMaxFieldErrors = 100;

// Deep enough for any body the API defines; shallow enough that a hostile body cannot make the
// parser's stack or the reader's recursion expensive.
inline constexpr std::size_t kDefaultJsonMaxDepth = 32;

struct JsonLimits {
  std::size_t max_depth = kDefaultJsonMaxDepth;  // objects and arrays nested, the top one counts
};

// A parsed JSON object (the top level of a request body). Move-only; read it with JsonReader.
class JsonObject {
 public:
  struct Impl;

  explicit JsonObject(std::unique_ptr<Impl> impl);
  JsonObject(JsonObject&&) noexcept;
  JsonObject& operator=(JsonObject&&) noexcept;
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;
  ~JsonObject();

  [[nodiscard]] std::size_t size() const;

 private:
  friend class JsonReader;
  std::unique_ptr<Impl> impl_;
};

// The request body as a JSON object, or 415 / 400 / 422 as described above. The body's size is
// bounded by the server before this runs.
[[nodiscard]] core::Result<JsonObject> ParseJsonBody(const Request& req, JsonLimits limits = {});
// The same without the Content-Type check, for JSON from elsewhere (and tests).
[[nodiscard]] core::Result<JsonObject> ParseJsonObject(std::string_view text,
                                                       JsonLimits limits = {});

// True when the Content-Type header value is application/json, parameters ignored.
[[nodiscard]] bool IsJsonContentType(std::string_view content_type);

// "/" followed by `token` escaped per RFC 6901 ("~" -> "~0", "/" -> "~1").
[[nodiscard]] std::string JsonPointerTo(std::string_view token);

// A PATCH field's three states: absent (leave as is), null (clear), or a value (set).
template <typename T>
class Patch {
 public:
  Patch() = default;
  [[nodiscard]] static Patch Null() {
    Patch p;
    p.state_ = State::kNull;
    return p;
  }
  [[nodiscard]] static Patch Of(T value) {
    Patch p;
    p.state_ = State::kValue;
    p.value_ = std::move(value);
    return p;
  }

  [[nodiscard]] bool IsAbsent() const { return state_ == State::kAbsent; }
  [[nodiscard]] bool IsNull() const { return state_ == State::kNull; }
  [[nodiscard]] bool HasValue() const { return state_ == State::kValue; }
  // Only when HasValue().
  [[nodiscard]] const T& Value() const { return *value_; }
  [[nodiscard]] T& Value() { return *value_; }

 private:
  enum class State { kAbsent, kNull, kValue };
  State state_ = State::kAbsent;
  std::optional<T> value_;
};

namespace internal {
// Whether the reader that produced a field finished without errors; shared so that a field
// outliving its reader stays safe to ask.
struct ReadGate {
  bool finished_ok = false;
};
// Aborts: a field was read from a body that is to be refused, or before it was checked.
[[noreturn]] void UnfinishedRead();
}  // namespace internal

// A value read from a body. Like std::optional<T> (empty when the field was absent), but every
// accessor aborts unless the reader's Finish() has succeeded: reading is a programming error
// otherwise, since the body is to be refused whole.
template <typename T>
class JsonField {
 public:
  JsonField(std::optional<T> value, std::shared_ptr<const internal::ReadGate> gate)
      : value_(std::move(value)), gate_(std::move(gate)) {}

  [[nodiscard]] bool has_value() const { return Checked().has_value(); }
  [[nodiscard]] const T& operator*() const& { return *Checked(); }
  [[nodiscard]] T&& operator*() && { return *std::move(Checked()); }
  [[nodiscard]] const T* operator->() const { return &*Checked(); }
  template <typename U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return Checked().value_or(std::forward<U>(fallback));
  }
  [[nodiscard]] const std::optional<T>& optional() const { return Checked(); }
  // Unchecked, for cross-field checks before Finish() (then JsonReader::Reject): the body the
  // value came from may still be refused, so it must not be used for anything else.
  [[nodiscard]] const std::optional<T>& Peek() const { return value_; }

 private:
  [[nodiscard]] const std::optional<T>& Checked() const {
    if (!gate_ || !gate_->finished_ok) internal::UnfinishedRead();
    return value_;
  }
  [[nodiscard]] std::optional<T>& Checked() {
    if (!gate_ || !gate_->finished_ok) internal::UnfinishedRead();
    return value_;
  }

  std::optional<T> value_;
  std::shared_ptr<const internal::ReadGate> gate_;
};

// Checks a string's format after its length; returns an error detail, or "" when valid.
using StringCheck = std::string_view (*)(std::string_view value);

struct StringRules {
  bool required = false;
  std::size_t min_len = 0;        // code points
  std::size_t max_len = 1 << 20;  // code points; set a real bound for every field
  StringCheck check = nullptr;
};

struct IntRules {
  bool required = false;
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
};

struct BoolRules {
  bool required = false;
};

struct StringArrayRules {
  bool required = false;
  std::size_t min_items = 0;
  std::size_t max_items = 100;
  std::size_t min_len = 0;  // of each item, code points
  std::size_t max_len = 1 << 20;
  StringCheck check = nullptr;  // of each item
};

// Reads the members of one object, collecting a FieldError per invalid member instead of
// failing at the first. Each member may be read once; Finish() reports the ones never read as
// unknown fields. The JsonObject must outlive the reader.
class JsonReader {
 public:
  explicit JsonReader(const JsonObject& object);

  [[nodiscard]] JsonField<std::string> String(std::string_view name, StringRules rules = {});
  [[nodiscard]] JsonField<std::int64_t> Int(std::string_view name, IntRules rules = {});
  [[nodiscard]] JsonField<bool> Bool(std::string_view name, BoolRules rules = {});
  [[nodiscard]] JsonField<std::vector<std::string>> StringArray(std::string_view name,
                                                                StringArrayRules rules = {});
  // For PATCH: absent, null or a value; always engaged.
  [[nodiscard]] JsonField<Patch<std::string>> NullableString(std::string_view name,
                                                             StringRules rules = {});
  [[nodiscard]] JsonField<Patch<std::int64_t>> NullableInt(std::string_view name,
                                                           IntRules rules = {});

  // Adds an error the rules cannot express (say, two fields that contradict each other, seen
  // with JsonField::Peek). Call it before Finish().
  void Reject(std::string_view name, std::string detail);

  // Unknown members become errors; then kValidation with every field error, or success, after
  // which the fields' values may be read.
  [[nodiscard]] core::Result<void> Finish();

 private:
  const JsonObject::Impl& object_;
  std::vector<std::string> read_;  // names read so far
  std::vector<core::FieldError> errors_;
  bool finished_ = false;
  std::shared_ptr<internal::ReadGate> gate_;
};

// Builds a JSON response body. Strings are escaped, and invalid UTF-8 in them (say, from an old
// row) becomes U+FFFD, so the output is always valid JSON. Keys and values must alternate
// inside objects; the caller balances Begin/End.
//
//   JsonWriter w;
//   w.BeginObject().Key("id").String(id).Key("labels").BeginArray().String("a").EndArray();
//   std::string body = std::move(w.EndObject()).Take();
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view name);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(std::int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  [[nodiscard]] std::string Take() && { return std::move(out_); }

 private:
  void BeforeValue();
  void AppendString(std::string_view s);

  std::string out_;
  std::vector<bool> has_members_;  // one per open object or array
  bool after_key_ = false;
};

}  // namespace trellis::platform::http
