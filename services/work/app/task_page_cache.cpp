#include "services/work/app/task_page_cache.hpp"

#include <algorithm>
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

std::size_t RenderedTaskPage::Bytes() const {
  std::size_t n = sizeof(RenderedTaskPage);
  for (const auto& item : items) n += item.size() + sizeof(std::string);
  if (next) n += next->key.size() + next->id.size();
  return n;
}

TaskPageCache::TaskPageCache(TaskPageCacheSettings settings) : settings_(settings) {}

std::string TaskPageCache::KeyOf(const store::TaskQuery& q) {
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

std::uint64_t TaskPageCache::Token() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

std::shared_ptr<const RenderedTaskPage> TaskPageCache::Find(const std::string& org,
                                                            const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto o = orgs_.find(org);
  if (o == orgs_.end()) return nullptr;
  const auto p = o->second.pages.find(key);
  return p == o->second.pages.end() ? nullptr : p->second;
}

void TaskPageCache::Fill(const std::string& org, const std::string& key,
                         std::shared_ptr<const RenderedTaskPage> page, std::uint64_t token) {
  if (!page || settings_.max_pages == 0) return;
  const std::size_t size = page->Bytes() + key.size();
  if (size > settings_.max_bytes) return;
  std::lock_guard lock(mutex_);
  if (token < floor_) return;
  OrgPages& entry = orgs_[org];
  // Invalidated since the token was taken: what was read may predate the write.
  if (entry.invalidated_at > token) return;
  auto [it, inserted] = entry.pages.try_emplace(key);
  if (!inserted) {
    bytes_ -= it->second->Bytes() + key.size();
    --pages_;
  }
  it->second = std::move(page);
  bytes_ += size;
  ++pages_;
  while (pages_ > settings_.max_pages || bytes_ > settings_.max_bytes) {
    if (!EvictOneLocked()) break;
  }
}

void TaskPageCache::Invalidate(const std::string& org) {
  std::lock_guard lock(mutex_);
  ++seq_;
  OrgPages& entry = orgs_[org];
  entry.invalidated_at = seq_;
  for (const auto& [key, page] : entry.pages) bytes_ -= page->Bytes() + key.size();
  pages_ -= entry.pages.size();
  entry.pages.clear();
  // Orgs without pages are remembered only for their invalidation; forgetting them raises
  // the floor so that no fill older than the forgetting can land.
  if (orgs_.size() > settings_.max_pages) {
    std::erase_if(orgs_, [](const auto& o) { return o.second.pages.empty(); });
    floor_ = ++seq_;
  }
}

bool TaskPageCache::EvictOneLocked() {
  for (auto o = orgs_.begin(); o != orgs_.end(); ++o) {
    auto& pages = o->second.pages;
    if (pages.empty()) continue;
    auto victim = pages.begin();
    bytes_ -= victim->second->Bytes() + victim->first.size();
    --pages_;
    pages.erase(victim);
    return true;
  }
  return false;
}

std::size_t TaskPageCache::Pages() const {
  std::lock_guard lock(mutex_);
  return pages_;
}

std::size_t TaskPageCache::Bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace trellis::work::app
