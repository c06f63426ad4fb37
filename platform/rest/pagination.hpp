// Cursor (keyset) pagination for list endpoints: `limit` and an opaque, signed `cursor`.
//
//   auto page = rest::ParsePage(req, "status=todo&sort=-created");  // 422 bad limit, 400 cursor
//   if (!page) co_return Problem(page.error(), req.path, req.ctx.request_id);
//   // SQL: ... WHERE (created_at, id) < ($after0, $after1) ORDER BY ... LIMIT page->limit + 1
//   auto next = rest::NextCursor(rows, page->limit, binding,
//                                [](const Row& r) { return std::vector<std::string>{r.created,
//                                r.id}; });
//   co_return Response::Json(200, rest::ListBody(serialized_items, next));
//
// A cursor is base64url(compact position encoding + truncated HMAC-SHA256) under a process key
// and the list's `binding` (its filters and sort), so clients can neither forge a position nor
// reuse a cursor with other filters. Body shape: {"items":[...],"next_cursor":"…"|null}.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/core/error.hpp"
#include "platform/http/request.hpp"

namespace trellis::platform::rest {

inline constexpr int kMaxLimit = 200;
inline constexpr int kDefaultLimit = 50;
// Longer `cursor` parameters are refused before decoding (ours are far shorter).
inline constexpr std::size_t kMaxCursorLength = 2048;

struct PageRequest {
  int limit = kDefaultLimit;
  // The decoded keyset position, if a cursor was given.
  std::optional<std::vector<std::string>> after;
};

// Reads `limit` (an integer 1..200, default 50; else 422 with a field error at "/limit") and
// `cursor` (opaque; tampered, garbage or minted under another binding -> 400 kInvalidArgument
// "invalid cursor"; an empty `cursor=` counts as absent). `binding` is a string the list's
// filters and sort make (e.g. "status=todo&sort=-created").
[[nodiscard]] core::Result<PageRequest> ParsePage(const http::Request& req,
                                                  std::string_view binding);

// Opaque cursor text for the keyset position after the last row returned (e.g.
// {created_at, id}) under `binding`.
[[nodiscard]] std::string EncodeCursor(const std::vector<std::string>& position,
                                       std::string_view binding);
// The decoding ParsePage does; kInvalidArgument "invalid cursor".
[[nodiscard]] core::Result<std::vector<std::string>> DecodeCursor(std::string_view cursor,
                                                                  std::string_view binding);

// Sets the process-wide cursor signing key; call once at start-up, before serving. Nodes
// behind one load balancer must share it. Unset, a random key is drawn on first use (cursors
// then die with the process). An empty key means "random".
void SetCursorKey(std::string key);

// {"items":[<items joined by ','>],"next_cursor":"…"|null}; each item is already-serialized
// JSON (say, from http::JsonWriter).
[[nodiscard]] std::string ListBody(const std::vector<std::string>& items,
                                   const std::optional<std::string>& next_cursor);
// The same body from items already joined with ',' (a cached page).
[[nodiscard]] std::string JoinedListBody(std::string_view items,
                                         const std::optional<std::string>& next_cursor);

// For a query that fetched up to limit + 1 rows: drops the extra row and returns the cursor
// for the last kept row, or nullopt when there was no extra row (the last page).
template <typename Row, typename PositionFn>
[[nodiscard]] std::optional<std::string> NextCursor(std::vector<Row>& rows, int limit,
                                                    std::string_view binding, PositionFn position) {
  if (limit < 1 || rows.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
  rows.resize(static_cast<std::size_t>(limit));
  return EncodeCursor(position(rows.back()), binding);
}

}  // namespace trellis::platform::rest
