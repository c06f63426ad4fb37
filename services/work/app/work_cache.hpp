// What the work context keeps in the shared cache (platform/cache/cache_aside.hpp; ADR 0019):
// projects and task-list pages, all in namespace "work:<org>", which every work.* event of the
// org invalidates (the use case right after its commit, and the event-log consumer "cache").
// Values are what a hit needs and nothing more: a page is its items' JSON, already joined, and
// the position after it, so a warm hit reads no database and renders nothing.
//
//   refs.push_back(TaskPageRef(org, query));
//   RenderedTaskPage page = *RenderedTaskPage::Parse(cached_text);
#pragma once

#include <optional>
#include <string>

#include "platform/cache/cache_aside.hpp"
#include "services/work/domain/work_model.hpp"
#include "services/work/store/work_store.hpp"

namespace trellis::work::app {

// Event types that invalidate WorkNamespace(org).
inline constexpr const char* kWorkEventPrefix = "work.";
inline constexpr const char* kWorkNamespacePrefix = "work:";

[[nodiscard]] std::string WorkNamespace(const std::string& org_id);
// The canonical key of a query (statuses in a fixed order; every field named, with its length).
[[nodiscard]] std::string TaskQueryKey(const store::TaskQuery& query);
[[nodiscard]] platform::cache::CacheRef TaskPageRef(const std::string& org_id,
                                                    const store::TaskQuery& query);
[[nodiscard]] platform::cache::CacheRef ProjectRef(const std::string& org_id,
                                                   const std::string& project_id);

// One page of a task list, ready to be written into a list body.
struct RenderedTaskPage {
  std::string items;                    // the items' TaskJson, joined with ','
  std::optional<store::Position> next;  // set when more follow
  [[nodiscard]] std::string Serialize() const;
  // Takes the text: the items are cut out of it in place, not copied (a page is ~27 KB).
  [[nodiscard]] static std::optional<RenderedTaskPage> Parse(std::string text);
};

[[nodiscard]] std::string SerializeProject(const domain::Project& project);
[[nodiscard]] std::optional<domain::Project> ParseProject(const std::string& text);

}  // namespace trellis::work::app
