#include "services/work/app/work_cache.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "services/work/domain/work_model.hpp"

namespace trellis::work::app {

namespace {

// A field of the key: its name, its length and its text, so no value can imitate another.
void Put(std::string& key, char name, std::string_view value) {
  key += name;
  key += std::to_string(value.size());
  key += ':';
  key += value;
}

void PutOptional(std::string& key, char name, const std::optional<std::string>& value) {
  if (value) Put(key, name, *value);
}

}  // namespace

std::string TaskQueryKey(const store::TaskQuery& q) {
  std::string key;
  key.reserve(128);
  Put(key, 'p', q.project_id);
  std::vector<int> statuses;
  statuses.reserve(q.statuses.size());
  for (auto s : q.statuses) statuses.push_back(static_cast<int>(s));
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
  key += 's';
  for (int s : statuses) {
    key += std::to_string(s);
    key += ',';
  }
  PutOptional(key, 'a', q.assignee_id);
  PutOptional(key, 'l', q.label);
  if (q.priority) Put(key, 'r', std::to_string(*q.priority));
  PutOptional(key, 't', q.text);
  PutOptional(key, 'b', q.due_before);
  PutOptional(key, 'f', q.due_after);
  Put(key, 'o', std::to_string(static_cast<int>(q.sort)));
  key += q.descending ? 'D' : 'A';
  if (q.after) {
    Put(key, 'k', q.after->key);
    Put(key, 'i', q.after->id);
  }
  Put(key, 'n', std::to_string(q.limit));
  return key;
}

std::string WorkNamespace(const std::string& org_id) { return kWorkNamespacePrefix + org_id; }

platform::cache::CacheRef TaskPageRef(const std::string& org_id, const store::TaskQuery& query) {
  return platform::cache::CacheRef(WorkNamespace(org_id), "t:" + TaskQueryKey(query));
}

platform::cache::CacheRef ProjectRef(const std::string& org_id, const std::string& project_id) {
  return platform::cache::CacheRef(WorkNamespace(org_id), "p:" + project_id);
}

// "<key length>:<key><id length>:<id>\n<items>", or "-\n<items>" without a next position.
std::string RenderedTaskPage::Serialize() const {
  std::string out;
  out.reserve(items.size() + 64);
  if (next) {
    Put(out, 'k', next->key);
    Put(out, 'i', next->id);
  } else {
    out += '-';
  }
  out += '\n';
  out += items;
  return out;
}

namespace {

// Reads one Put field named `name` at `at`; advances `at`.
std::optional<std::string> Take(const std::string& text, std::size_t& at, char name) {
  if (at >= text.size() || text[at] != name) return std::nullopt;
  const auto colon = text.find(':', at + 1);
  if (colon == std::string::npos) return std::nullopt;
  std::size_t length = 0;
  auto [p, ec] = std::from_chars(text.data() + at + 1, text.data() + colon, length);
  if (ec != std::errc() || p != text.data() + colon || colon + 1 + length > text.size()) {
    return std::nullopt;
  }
  std::string out = text.substr(colon + 1, length);
  at = colon + 1 + length;
  return out;
}

}  // namespace

std::optional<RenderedTaskPage> RenderedTaskPage::Parse(std::string text) {
  RenderedTaskPage page;
  std::size_t at = 0;
  if (!text.empty() && text[0] == '-') {
    at = 1;
  } else {
    auto key = Take(text, at, 'k');
    auto id = key ? Take(text, at, 'i') : std::nullopt;
    if (!id) return std::nullopt;
    page.next = store::Position{std::move(*key), std::move(*id)};
  }
  if (at >= text.size() || text[at] != '\n') return std::nullopt;
  text.erase(0, at + 1);
  page.items = std::move(text);
  return page;
}

std::string SerializeProject(const domain::Project& p) {
  boost::json::object o;
  o["o"] = p.org_id;
  o["i"] = p.id;
  o["n"] = p.name;
  o["d"] = p.description;
  o["a"] = p.archived;
  o["c"] = p.created_by;
  o["ca"] = p.created_at_ms;
  o["ua"] = p.updated_at_ms;
  o["v"] = p.version;
  return boost::json::serialize(o);
}

std::optional<domain::Project> ParseProject(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  domain::Project p;
  auto str = [&](const char* k, std::string& out) {
    const auto* v = o.if_contains(k);
    if (!v || !v->is_string()) return false;
    out = std::string(v->as_string());
    return true;
  };
  auto num = [&](const char* k, std::int64_t& out) {
    const auto* v = o.if_contains(k);
    if (!v || !v->is_int64()) return false;
    out = v->as_int64();
    return true;
  };
  const auto* archived = o.if_contains("a");
  if (!str("o", p.org_id) || !str("i", p.id) || !str("n", p.name) || !str("d", p.description) ||
      !str("c", p.created_by) || !num("ca", p.created_at_ms) || !num("ua", p.updated_at_ms) ||
      !num("v", p.version) || !archived || !archived->is_bool()) {
    return std::nullopt;
  }
  p.archived = archived->as_bool();
  return p;
}

}  // namespace trellis::work::app
