// A cache of rendered task-list pages, owned by the work context and invalidated by its own
// commits (ADR 0011). A page is kept per (org, canonical query incl. filters, sort, position
// and limit) as its items' JSON (TaskJson) plus the position after it, so a warm hit reads no
// SQLite and renders nothing. Correct only while this process sees every write to the org's
// tasks: the embedded shape (one process per data directory).
//
//   const auto token = cache.Token();                  // before the database read
//   ... read the page, render it ...
//   cache.Fill(org, key, page, token);                 // dropped if the org was written since
//   cache.Invalidate(org);                             // after every committed work mutation
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "services/work/store/work_store.hpp"

namespace trellis::work::app {

// One page of a task list, ready to be written into a list body.
struct RenderedTaskPage {
  std::vector<std::string> items;       // TaskJson of each task, in order
  std::optional<store::Position> next;  // set when more follow
  [[nodiscard]] std::size_t Bytes() const;
};

struct TaskPageCacheSettings {
  // Pages kept over all orgs; 0 disables the cache.
  std::size_t max_pages = 4096;
  // Bytes of rendered JSON kept over all orgs (a 50-task page is about 28 KB).
  std::size_t max_bytes = std::size_t{64} << 20;
};

class TaskPageCache {
 public:
  explicit TaskPageCache(TaskPageCacheSettings settings = {});

  // The canonical key of a query (statuses in a fixed order; every field named).
  [[nodiscard]] static std::string KeyOf(const store::TaskQuery& query);

  // Take before reading the page from the database; hand to Fill.
  [[nodiscard]] std::uint64_t Token() const;
  [[nodiscard]] std::shared_ptr<const RenderedTaskPage> Find(const std::string& org,
                                                             const std::string& key) const;
  // Keeps the page unless the org was invalidated after `token` was taken (a write committed
  // while the page was being read: the page may be the old one).
  void Fill(const std::string& org, const std::string& key,
            std::shared_ptr<const RenderedTaskPage> page, std::uint64_t token);
  // Drops the org's pages; call after each commit that changes the org's work data, before
  // the use case returns.
  void Invalidate(const std::string& org);

  [[nodiscard]] std::size_t Pages() const;
  [[nodiscard]] std::size_t Bytes() const;

 private:
  struct OrgPages {
    std::uint64_t invalidated_at = 0;  // seq_ at the org's latest invalidation
    std::unordered_map<std::string, std::shared_ptr<const RenderedTaskPage>> pages;
  };
  bool EvictOneLocked();  // false when nothing is left to evict

  const TaskPageCacheSettings settings_;
  mutable std::mutex mutex_;
  // All guarded by mutex_.
  std::uint64_t seq_ = 0;    // bumped by every Invalidate
  std::uint64_t floor_ = 0;  // fills with a token below it are dropped (org entries forgotten)
  std::unordered_map<std::string, OrgPages> orgs_;
  std::size_t pages_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace trellis::work::app
