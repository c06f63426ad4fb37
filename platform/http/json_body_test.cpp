#include "platform/http/json_body.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trellis::platform::http {
namespace {

using core::ErrorCode;
using core::FieldError;

Request JsonRequest(std::string body, std::string_view content_type = "application/json") {
  Request req;
  req.method = Method::kPost;
  if (!content_type.empty()) req.headers.push_back({"Content-Type", content_type});
  req.body = std::move(body);
  return req;
}

ErrorCode CodeOf(std::string body, std::string_view content_type = "application/json") {
  const Request req = JsonRequest(std::move(body), content_type);
  auto r = ParseJsonBody(req);
  EXPECT_FALSE(r.has_value());
  return r ? ErrorCode::kInternal : r.error().code;
}

JsonObject Parse(std::string_view text) {
  auto r = ParseJsonObject(text);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return std::move(*r);
}

std::vector<std::pair<std::string, std::string>> Fields(const core::Error& e) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const FieldError& f : e.fields) out.emplace_back(f.pointer, f.detail);
  return out;
}

// --- Content-Type -------------------------------------------------------------------------

TEST(JsonBodyTest, RefusesAMissingOrWrongContentTypeWith415) {
  EXPECT_EQ(CodeOf("{}", ""), ErrorCode::kUnsupportedMedia);
  EXPECT_EQ(CodeOf("{}", "text/plain"), ErrorCode::kUnsupportedMedia);
  EXPECT_EQ(CodeOf("{}", "application/jsonx"), ErrorCode::kUnsupportedMedia);
  EXPECT_EQ(CodeOf("{}", "application/x-www-form-urlencoded"), ErrorCode::kUnsupportedMedia);
  EXPECT_EQ(CodeOf("{}", "application/merge-patch+json"), ErrorCode::kUnsupportedMedia);
  EXPECT_EQ(core::HttpStatus(ErrorCode::kUnsupportedMedia), 415);
}

TEST(JsonBodyTest, AcceptsApplicationJsonWithParametersInAnyCase) {
  for (const std::string_view ct :
       {"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
        " application/json ; charset=utf-8"}) {
    const Request req = JsonRequest(R"({"a":1})", ct);
    auto r = ParseJsonBody(req);
    ASSERT_TRUE(r.has_value()) << ct;
    EXPECT_EQ(r->size(), 1U);
  }
}

// --- 400: not JSON ------------------------------------------------------------------------

TEST(JsonBodyTest, RefusesMalformedJsonWith400WithoutEchoingTheBody) {
  for (const std::string body :
       {"", "{", R"({"a":})", R"({"a":1,})", "{'a':1}", R"({"a":1} /* c */)", "secret-token"}) {
    const Request req = JsonRequest(body);
    auto r = ParseJsonBody(req);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << body;
    EXPECT_EQ(core::HttpStatus(r.error().code), 400);
    EXPECT_EQ(r.error().message.find("secret"), std::string::npos) << r.error().message;
  }
}

TEST(JsonBodyTest, RefusesTrailingData) {
  EXPECT_EQ(CodeOf(R"({"a":1}x)"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(R"({"a":1}{"b":2})"), ErrorCode::kInvalidArgument);
  // Whitespace after the value is not data.
  EXPECT_TRUE(ParseJsonObject("{\"a\":1}  \n").has_value());
}

TEST(JsonBodyTest, RefusesInvalidUtf8) {
  EXPECT_EQ(CodeOf("{\"a\":\"\xff\"}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf("{\"a\":\"\xc0\xaf\"}"), ErrorCode::kInvalidArgument);      // overlong '/'
  EXPECT_EQ(CodeOf("{\"a\":\"\xed\xa0\x80\"}"), ErrorCode::kInvalidArgument);  // raw surrogate
  EXPECT_EQ(CodeOf("{\"a\":\"\xe2\x82\"}"), ErrorCode::kInvalidArgument);      // truncated
  EXPECT_EQ(CodeOf("{\"\xff\":1}"), ErrorCode::kInvalidArgument);              // in a key
  // Escaped lone surrogates would decode to invalid UTF-8; Boost.JSON 1.81 refuses them.
  EXPECT_EQ(CodeOf(R"({"a":"\ud800"})"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(R"({"a":"\udc00"})"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(R"({"a":"\ud800x"})"), ErrorCode::kInvalidArgument);
  // A proper pair and multibyte text are fine.
  EXPECT_TRUE(ParseJsonObject(R"({"a":"\ud83d\ude00"})").has_value());
  EXPECT_TRUE(ParseJsonObject("{\"a\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"}").has_value());
}

TEST(JsonBodyTest, RefusesDuplicateKeys) {
  EXPECT_EQ(CodeOf(R"({"a":1,"a":2})"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(R"({"x":{"a":1,"b":2,"a":3}})"), ErrorCode::kInvalidArgument);
  // Escapes are decoded before comparing: "\u0061" is "a".
  EXPECT_EQ(CodeOf(R"({"a":1,"\u0061":2})"), ErrorCode::kInvalidArgument);
  const Request req = JsonRequest(R"({"a":1,"a":2})");
  EXPECT_NE(ParseJsonBody(req).error().message.find("duplicate"), std::string::npos);
  // The same key in sibling or nested objects is not a duplicate.
  EXPECT_TRUE(ParseJsonObject(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})").has_value());
}

TEST(JsonBodyTest, RefusesNestingDeeperThanTheLimit) {
  auto nested = [](std::size_t depth) {
    return "{\"a\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  EXPECT_TRUE(ParseJsonObject(nested(kDefaultJsonMaxDepth)).has_value());
  const Request req = JsonRequest(nested(kDefaultJsonMaxDepth + 1));
  auto r = ParseJsonBody(req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("deeper"), std::string::npos);
  EXPECT_FALSE(ParseJsonObject(nested(3), {.max_depth = 2}).has_value());
  // A hostile depth fails fast, without exhausting the stack.
  EXPECT_FALSE(ParseJsonObject(nested(100000)).has_value());
}

// --- 422: not an object -------------------------------------------------------------------

TEST(JsonBodyTest, RefusesATopLevelOtherThanAnObjectWith422AtTheRootPointer) {
  for (const std::string body : {"[]", "[{\"a\":1}]", "1", "\"s\"", "null", "true"}) {
    const Request req = JsonRequest(body);
    auto r = ParseJsonBody(req);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kValidation) << body;
    ASSERT_EQ(r.error().fields.size(), 1U);
    EXPECT_EQ(r.error().fields[0].pointer, "");
  }
}

// --- The reader ---------------------------------------------------------------------------

TEST(JsonReaderTest, ReadsValidFields) {
  const JsonObject body =
      Parse(R"({"title":"Ship it","priority":3,"labels":["a","b"],"archived":false,"big":1e2})");
  JsonReader r(body);
  auto title = r.String("title", {.required = true, .min_len = 1, .max_len = 200});
  auto priority = r.Int("priority", {.min = 0, .max = 4});
  auto due = r.String("due_date", {.max_len = 10});
  auto labels = r.StringArray("labels", {.max_items = 20, .max_len = 50});
  auto archived = r.Bool("archived");
  auto big = r.Int("big");
  ASSERT_TRUE(r.Finish().has_value());
  EXPECT_EQ(*title, "Ship it");
  EXPECT_EQ(*priority, 3);
  EXPECT_FALSE(due.has_value());
  EXPECT_EQ(due.value_or("none"), "none");
  EXPECT_EQ(*labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*archived, false);
  EXPECT_EQ(*big, 100);  // an integral number written with an exponent is an integer
}

TEST(JsonReaderTest, ReportsOneEntryPerInvalidFieldAllAtOnce) {
  // "é" is two bytes and one code point: 6 code points, 12 bytes.
  const JsonObject body = Parse(
      "{\"title\":42,"
      "\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\","
      "\"short\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\","
      "\"priority\":9223372036854775808,"
      "\"weight\":1.5,"
      "\"level\":7,"
      "\"labels\":[\"ok\",\"fine\",\"this one is too long\"],"
      "\"archived\":\"yes\","
      "\"extra\":true}");
  JsonReader r(body);
  auto title = r.String("title", {.required = true, .max_len = 200});
  auto name = r.String("name", {.max_len = 5});
  auto short_name = r.String("short", {.max_len = 5});  // exactly 5 code points: valid
  auto owner = r.String("owner", {.required = true});
  auto priority = r.Int("priority", {.min = 0, .max = 4});
  auto weight = r.Int("weight");
  auto level = r.Int("level", {.min = 0, .max = 4});
  auto labels = r.StringArray("labels", {.max_items = 20, .max_len = 10});
  auto archived = r.Bool("archived");
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  EXPECT_EQ(ok.error().code, ErrorCode::kValidation);
  EXPECT_EQ(core::HttpStatus(ok.error().code), 422);
  EXPECT_EQ(ok.error().message, "the request body has invalid fields");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/title", "must be a string"},
      {"/name", "must be at most 5 characters"},
      {"/owner", "is required"},
      {"/priority", "must be at most 4"},
      {"/weight", "must be an integer"},
      {"/level", "must be at most 4"},
      {"/labels/2", "must be at most 10 characters"},
      {"/archived", "must be a boolean"},
      {"/extra", "unknown field"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, IntegersBeyondInt64AreOutOfRange) {
  const JsonObject body =
      Parse(R"({"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615,)"
            R"("d":1e19,"e":-1e19,"f":-1,"g":100000000000000000000000,"h":"1","i":true})");
  JsonReader r(body);
  auto a = r.Int("a");
  auto b = r.Int("b");
  auto c = r.Int("c");
  auto d = r.Int("d");
  auto e = r.Int("e");
  auto f = r.Int("f", {.min = 0});
  auto g = r.Int("g");
  auto h = r.Int("h");
  auto i = r.Int("i");
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/c", "must be at most 9223372036854775807"},
      {"/d", "must be at most 9223372036854775807"},
      {"/e", "must be at least -9223372036854775808"},
      {"/f", "must be at least 0"},
      {"/g", "must be at most 9223372036854775807"},
      {"/h", "must be an integer"},
      {"/i", "must be an integer"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, BoundaryIntegersAreValid) {
  const JsonObject body = Parse(R"({"a":9223372036854775807,"b":-9223372036854775808,"c":-0})");
  JsonReader r(body);
  auto a = r.Int("a");
  auto b = r.Int("b");
  auto c = r.Int("c");
  ASSERT_TRUE(r.Finish().has_value());
  EXPECT_EQ(*a, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(*b, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(*c, 0);
}

TEST(JsonReaderTest, NullIsNotAbsentForPlainFields) {
  const JsonObject body = Parse(R"({"title":null,"n":null,"b":null,"l":null})");
  JsonReader r(body);
  auto title = r.String("title");
  auto n = r.Int("n");
  auto b = r.Bool("b");
  auto l = r.StringArray("l");
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  EXPECT_EQ(ok.error().fields.size(), 4U);
  EXPECT_EQ(ok.error().fields[0].detail, "must not be null");
}

TEST(JsonReaderTest, EscapesPointersPerRfc6901) {
  EXPECT_EQ(JsonPointerTo("a/b~c"), "/a~1b~0c");
  EXPECT_EQ(JsonPointerTo("~1"), "/~01");
  EXPECT_EQ(JsonPointerTo(""), "/");
  const JsonObject body = Parse(R"({"a/b~c":1,"x~/y":2,"list/x":[1]})");
  JsonReader r(body);
  auto a = r.String("a/b~c");
  auto list = r.StringArray("list/x");
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/a~1b~0c", "must be a string"},
      {"/list~1x/0", "must be a string"},
      {"/x~0~1y", "unknown field"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, StringArrayBounds) {
  const JsonObject body = Parse(R"({"few":[],"many":["a","b","c"],"wrong":"a","ok":["x"]})");
  JsonReader r(body);
  auto few = r.StringArray("few", {.min_items = 1});
  auto many = r.StringArray("many", {.max_items = 2});
  auto wrong = r.StringArray("wrong");
  auto fine = r.StringArray("ok", {.min_items = 1, .max_items = 1, .min_len = 1, .max_len = 1});
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/few", "must have at least 1 items"},
      {"/many", "must have at most 2 items"},
      {"/wrong", "must be an array of strings"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, MinLengthAndFormatChecks) {
  const JsonObject body = Parse(R"({"title":"","due":"tomorrow","day":"2026-11-24"})");
  JsonReader r(body);
  constexpr StringCheck kIsDate = [](std::string_view s) -> std::string_view {
    return s.size() == 10 && s[4] == '-' && s[7] == '-' ? "" : "must be a date (YYYY-MM-DD)";
  };
  auto title = r.String("title", {.min_len = 1});
  auto due = r.String("due", {.max_len = 10, .check = kIsDate});
  auto day = r.String("day", {.max_len = 10, .check = kIsDate});
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/title", "must be at least 1 character"},
      {"/due", "must be a date (YYYY-MM-DD)"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, PatchDistinguishesAbsentNullAndValue) {
  const JsonObject body = Parse(R"({"description":null,"title":"new","priority":2,"due":null})");
  JsonReader r(body);
  auto description = r.NullableString("description", {.max_len = 10000});
  auto title = r.NullableString("title", {.max_len = 200});
  auto note = r.NullableString("note");
  auto priority = r.NullableInt("priority", {.min = 0, .max = 4});
  auto due = r.NullableInt("due");
  auto size = r.NullableInt("size");
  ASSERT_TRUE(r.Finish().has_value());
  EXPECT_TRUE(description->IsNull());
  EXPECT_TRUE(title->HasValue());
  EXPECT_EQ(title->Value(), "new");
  EXPECT_TRUE(note->IsAbsent());
  EXPECT_FALSE(note->IsNull());
  EXPECT_EQ(priority->Value(), 2);
  EXPECT_TRUE(due->IsNull());
  EXPECT_TRUE(size->IsAbsent());
}

TEST(JsonReaderTest, PatchValuesAreStillValidated) {
  const JsonObject body = Parse(R"({"title":"","priority":9,"description":5})");
  JsonReader r(body);
  auto title = r.NullableString("title", {.min_len = 1});
  auto priority = r.NullableInt("priority", {.max = 4});
  auto description = r.NullableString("description");
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/title", "must be at least 1 character"},
      {"/priority", "must be at most 4"},
      {"/description", "must be a string or null"},
  };
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, CrossFieldChecksPeekAndReject) {
  const JsonObject body = Parse(R"({"start":5,"end":3})");
  JsonReader r(body);
  auto start = r.Int("start");
  auto end = r.Int("end");
  if (start.Peek() && end.Peek() && *end.Peek() < *start.Peek()) {
    r.Reject("end", "must not be before start");
  }
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"/end", "must not be before start"}};
  EXPECT_EQ(Fields(ok.error()), want);
}

TEST(JsonReaderTest, FinishIsIdempotent) {
  const JsonObject body = Parse(R"({"x":1})");
  JsonReader r(body);
  EXPECT_EQ(r.Finish().error().fields.size(), 1U);
  EXPECT_EQ(r.Finish().error().fields.size(), 1U);
}

TEST(JsonReaderTest, ManyUnknownFieldsAreCapped) {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  text += "}";
  const JsonObject body = Parse(text);
  JsonReader r(body);
  auto ok = r.Finish();
  ASSERT_FALSE(ok.has_value());
  EXPECT_EQ(ok.error().fields.size(), kMaxFieldErrors);
}

using JsonReaderDeathTest = ::testing::Test;

TEST_F(JsonReaderDeathTest, NoValueIsHandedOutFromARefusedBody) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const JsonObject body = Parse(R"({"title":"ok","priority":99})");
  EXPECT_DEATH(
      {
        JsonReader r(body);
        auto title = r.String("title");
        (void)r.Finish();  // fails: priority is unknown
        (void)title.has_value();
      },
      "Finish");
  EXPECT_DEATH(
      {
        JsonReader r(body);
        auto title = r.String("title");
        (void)*title;  // Finish() not called yet
      },
      "Finish");
}

// --- The writer ---------------------------------------------------------------------------

TEST(JsonWriterTest, WritesNestedValuesWithCommas) {
  JsonWriter w;
  w.BeginObject().Key("id").String("t-1").Key("n").Int(-7).Key("ok").Bool(true);
  w.Key("none").Null().Key("labels").BeginArray().String("a").String("b").EndArray();
  w.Key("empty").BeginObject().EndObject().Key("list").BeginArray().EndArray();
  w.Key("rows").BeginArray().BeginObject().Key("x").Int(1).EndObject().BeginObject().EndObject();
  w.EndArray().EndObject();
  EXPECT_EQ(std::move(w).Take(),
            R"({"id":"t-1","n":-7,"ok":true,"none":null,"labels":["a","b"],"empty":{},)"
            R"("list":[],"rows":[{"x":1},{}]})");
}

TEST(JsonWriterTest, EscapesAndRepairsStringsSoTheOutputParses) {
  JsonWriter w;
  // Split literals: a hex escape would swallow a following "b" or "c".
  const std::string bad =
      "a\xff\xc0\xaf"
      "b\xed\xa0\x80"
      "c\xe2\x82";
  w.BeginObject().Key("q\"\\\n").String("\x01</script>").Key("bad").String(bad);
  w.Key("ok").String("h\xc3\xa9 \xf0\x9f\x98\x80").EndObject();
  const std::string out = std::move(w).Take();
  auto parsed = ParseJsonObject(out);
  ASSERT_TRUE(parsed.has_value()) << out;
  JsonReader r(*parsed);
  auto quoted = r.String("q\"\\\n");
  auto repaired = r.String("bad");
  auto ok = r.String("ok");
  ASSERT_TRUE(r.Finish().has_value());
  EXPECT_EQ(*quoted, "\x01</script>");
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(*repaired, "a" + fffd + fffd + fffd + "b" + fffd + fffd + fffd + "c" + fffd + fffd);
  EXPECT_EQ(*ok, "h\xc3\xa9 \xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace trellis::platform::http
