#include "tests/support/openapi.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "tests/support/json_schema.hpp"

namespace trellis::tests::support {
namespace {

namespace json = boost::json;
using platform::core::ErrorCode;
using platform::core::Fail;
using platform::core::Result;

constexpr int kMaxRefHops = 32;
constexpr std::string_view kMethods[] = {"get",     "put",  "post",  "delete",
                                         "options", "head", "patch", "trace"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A plain (unquoted) YAML scalar typed by the YAML 1.2 core schema; quoted ones are strings.
json::value Scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return json::string(text);  // quoted or block: always a string
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  try {
    if (std::regex_match(text, kInt)) return json::value(std::stoll(text));
    if (std::regex_match(text, kFloat)) return json::value(std::stod(text));
  } catch (const std::out_of_range&) {
    // Beyond int64/double: keep the text.
  }
  return json::string(text);
}

json::value ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return Scalar(node);
    case YAML::NodeType::Sequence: {
      json::array out;
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json::object out;
      for (const auto& kv : node) out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
  }
  return nullptr;
}

// Every $ref in the document must be local and resolve.
void CheckRefs(const json::value& v, const JsonSchemaValidator& resolver, const std::string& at,
               std::vector<std::string>& bad) {
  if (const auto* obj = v.if_object()) {
    for (const auto& [k, child] : *obj) {
      if (k == "$ref" && child.is_string()) {
        if (!resolver.Resolve(child.get_string())) {
          bad.push_back(at + ": " + std::string(child.get_string()));
        }
      } else {
        CheckRefs(child, resolver, at + "/" + std::string(k), bad);
      }
    }
  } else if (const auto* arr = v.if_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      CheckRefs((*arr)[i], resolver, at + "/" + std::to_string(i), bad);
    }
  }
}

std::string_view MediaType(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return t;
}

bool IsJsonMedia(std::string_view media) {
  const std::string m = Lower(media);
  return m == "application/json" || (m.size() > 5 && m.ends_with("+json"));
}

}  // namespace

OpenApiSpec::OpenApiSpec(json::value document)
    : document_(std::make_shared<const json::value>(std::move(document))) {}

Result<OpenApiSpec> OpenApiSpec::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kNotFound, "cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

Result<OpenApiSpec> OpenApiSpec::Parse(std::string_view yaml) {
  json::value doc;
  try {
    doc = ToJson(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kInvalidArgument, std::string("not YAML: ") + e.what());
  }
  const auto* obj = doc.if_object();
  if (!obj || !obj->contains("paths") || !obj->at("paths").is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "the document has no `paths` object");
  }
  JsonSchemaValidator resolver(doc);
  std::vector<std::string> bad;
  CheckRefs(doc, resolver, "#", bad);
  if (!bad.empty()) {
    std::string message = "unresolvable $ref:";
    for (const auto& b : bad) message += "\n  " + b;
    return Fail(ErrorCode::kInvalidArgument, std::move(message));
  }
  return OpenApiSpec(std::move(doc));
}

const json::value* OpenApiSpec::Deref(const json::value& value) const {
  JsonSchemaValidator resolver(*document_);
  const json::value* at = &value;
  for (int hop = 0; hop < kMaxRefHops; ++hop) {
    const auto* obj = at->if_object();
    const json::value* ref = obj ? obj->if_contains("$ref") : nullptr;
    if (!ref) return at;
    at = ref->is_string() ? resolver.Resolve(ref->get_string()) : nullptr;
    if (!at) return nullptr;
  }
  return nullptr;
}

std::set<Operation> OpenApiSpec::Operations() const {
  std::set<Operation> out;
  for (const auto& [path, item_ref] : document_->at("paths").get_object()) {
    const json::value* item = Deref(item_ref);
    if (!item || !item->is_object()) continue;
    for (const auto& [key, op] : item->get_object()) {
      const std::string method = Lower(key);
      if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
        continue;  // parameters, summary, servers, …
      }
      out.insert(Operation{Upper(method), std::string(path)});
    }
  }
  return out;
}

Result<void> OpenApiSpec::ValidateResponse(std::string_view method, std::string_view path_template,
                                           int status, std::string_view content_type,
                                           std::string_view body) const {
  const std::string where = Upper(method) + " " + std::string(path_template);
  const auto* paths = document_->at("paths").if_object();
  const json::value* item = paths->if_contains(path_template);
  item = item ? Deref(*item) : nullptr;
  const json::value* op =
      item && item->is_object() ? item->get_object().if_contains(Lower(method)) : nullptr;
  op = op ? Deref(*op) : nullptr;
  if (!op || !op->is_object()) return Fail(ErrorCode::kNotFound, where + ": no such operation");
  const json::value* responses_v = op->get_object().if_contains("responses");
  responses_v = responses_v ? Deref(*responses_v) : nullptr;
  if (!responses_v || !responses_v->is_object()) {
    return Fail(ErrorCode::kNotFound, where + ": no responses");
  }
  const auto& responses = responses_v->get_object();
  const std::string exact = std::to_string(status);
  const json::value* response = responses.if_contains(exact);
  if (!response) {
    const std::string range = exact.substr(0, 1) + "XX";
    for (const auto& [k, v] : responses) {
      if (Upper(k) == range) response = &v;
    }
  }
  if (!response) response = responses.if_contains("default");
  if (!response) {
    return Fail(ErrorCode::kNotFound, where + ": status " + exact + " is not documented");
  }
  response = Deref(*response);
  if (!response || !response->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, where + ": response " + exact + " is not an object");
  }

  const json::value* content = response->get_object().if_contains("content");
  if (!content || !content->is_object() || content->get_object().empty()) {
    if (body.empty()) return {};
    return Fail(ErrorCode::kInvalidArgument,
                where + ": response " + exact + " declares no content but has a body");
  }
  const std::string media = Lower(MediaType(content_type));
  const json::value* media_object = nullptr;
  for (const auto& [k, v] : content->get_object()) {
    const std::string declared = Lower(MediaType(k));
    if (declared == media || declared == "*/*" ||
        (declared.ends_with("/*") && media.starts_with(declared.substr(0, declared.size() - 1)))) {
      media_object = &v;
      if (declared == media) break;
    }
  }
  if (!media_object) {
    return Fail(ErrorCode::kUnsupportedMedia, where + ": response " + exact +
                                                  " does not declare content type " +
                                                  std::string(content_type));
  }
  media_object = Deref(*media_object);
  const json::value* schema = media_object && media_object->is_object()
                                  ? media_object->get_object().if_contains("schema")
                                  : nullptr;
  if (!schema || !IsJsonMedia(media)) return {};
  boost::system::error_code ec;
  json::value instance = json::parse(body, ec);
  if (ec) return Fail(ErrorCode::kInvalidArgument, where + ": the body is not JSON");
  auto valid = JsonSchemaValidator(*document_).Validate(*schema, instance);
  if (!valid) {
    auto error = valid.error();
    error.message = where + " " + exact + ": " + error.message;
    return std::unexpected(std::move(error));
  }
  return {};
}

std::string RouteDiff::ToString() const {
  std::string out;
  for (const auto& s : only_in_spec) out += "documented in the spec, not routed: " + s + "\n";
  for (const auto& s : only_in_router) out += "routed, not documented in the spec: " + s + "\n";
  return out;
}

RouteDiff CompareRoutes(const OpenApiSpec& spec,
                        const std::vector<platform::http::RouteInfo>& routes,
                        const std::vector<std::string>& prefixes) {
  std::set<Operation> routed;
  for (const auto& r : routes) {
    const bool wanted = std::any_of(prefixes.begin(), prefixes.end(),
                                    [&](const std::string& p) { return r.pattern.starts_with(p); });
    if (wanted) {
      routed.insert(Operation{std::string(platform::http::MethodName(r.method)), r.pattern});
    }
  }
  const std::set<Operation> documented = spec.Operations();
  RouteDiff diff;
  for (const auto& op : documented) {
    if (!routed.contains(op)) diff.only_in_spec.push_back(op.method + " " + op.path);
  }
  for (const auto& op : routed) {
    if (!documented.contains(op)) diff.only_in_router.push_back(op.method + " " + op.path);
  }
  return diff;
}

}  // namespace trellis::tests::support
